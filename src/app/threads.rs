//! Counting a pane's window on more than one core: a key waits on the
//! count, and the dashboard's other threads are idle while it runs.

/// Threads for `items` items of work: one below `from` (a thread's start
/// would cost more than it saves), else one per core, at most four.
pub(super) fn threads_for(items: usize, from: usize) -> usize {
    if items < from {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    }
}

/// `work` on each part, each on a thread of its own but the last (run on
/// the caller's), the answers in the parts' order. A panic in a part is
/// the caller's panic.
pub(super) fn on_threads<P: Send, R: Send>(
    mut parts: Vec<P>,
    work: impl Fn(P) -> R + Sync,
) -> Vec<R> {
    let Some(last) = parts.pop() else {
        return Vec::new();
    };
    let work = &work;
    std::thread::scope(|scope| {
        let running: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        let last = work(last);
        let mut answers: Vec<R> = running
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        answers.push(last);
        answers
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_back_in_the_parts_order() {
        let parts: Vec<Vec<u32>> = (0..5).map(|i| (i * 10..i * 10 + 10).collect()).collect();
        let sums = on_threads(parts, |p| p.iter().sum::<u32>());
        assert_eq!(sums, [45, 145, 245, 345, 445]);
        assert!(on_threads(Vec::<u8>::new(), |p| p).is_empty());
    }

    #[test]
    fn little_work_stays_on_one_thread() {
        assert_eq!(threads_for(10, 1000), 1);
        assert!(threads_for(1000, 1000) >= 1);
    }
}
