//! Athena queries: `StartQueryExecution`, `GetQueryExecution` (polled),
//! `GetQueryResults` (paged) and `StopQueryExecution`. Starting a query
//! is the one write: Athena stores its result in the workgroup's output
//! location. Nothing else is ever created or changed.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};

use super::answer_limit::AnswerLimit;
use super::error::{AwsError, ErrorKind};

/// Hears each result row: the column names and the row's values (`None`
/// for SQL NULL).
pub type OnRow<'f> = dyn FnMut(&HashMap<String, usize>, &[Option<String>]) + Send + 'f;

/// Where and how queries run.
#[derive(Debug, Clone)]
pub struct QueryPlace {
    pub workgroup: String,
    pub catalog: String,
    pub database: String,
    /// `s3://…/` for results, when the workgroup has none.
    pub output: Option<String>,
}

/// A query that ran to its end.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub id: String,
    pub scanned_bytes: u64,
}

/// Why a query gave no answer.
#[derive(Debug)]
pub enum QueryError {
    /// The call failed (access, workgroup, throttling, network…).
    Call(AwsError),
    /// Athena ran it and it failed: Athena's reason.
    Failed { id: String, reason: String },
    /// It passed `--max-scanned` and was stopped.
    TooBig { id: String, scanned: u64 },
    /// Stopped on request (Ctrl-C), or cancelled by someone else.
    Cancelled { id: String },
}

pub struct AthenaClient {
    client: aws_sdk_athena::Client,
}

/// Polls start quick (most report queries take seconds) and back off.
const FIRST_POLL: Duration = Duration::from_millis(200);
const LONGEST_POLL: Duration = Duration::from_secs(2);

impl AthenaClient {
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        let conf = aws_sdk_athena::config::Builder::from(config)
            .interceptor(AnswerLimit)
            .build();
        Self {
            client: aws_sdk_athena::Client::from_conf(conf),
        }
    }

    /// Starts `sql`; returns its execution id.
    ///
    /// # Errors
    /// The call's error.
    pub async fn start(&self, sql: &str, place: &QueryPlace) -> Result<String, AwsError> {
        let context = QueryExecutionContext::builder()
            .catalog(&place.catalog)
            .database(&place.database)
            .build();
        let mut request = self
            .client
            .start_query_execution()
            .query_string(sql)
            .query_execution_context(context)
            .work_group(&place.workgroup);
        if let Some(output) = &place.output {
            request = request.result_configuration(
                ResultConfiguration::builder()
                    .output_location(output)
                    .build(),
            );
        }
        let out = request.send().await.map_err(|e| AwsError::from_sdk(&e))?;
        out.query_execution_id
            .ok_or_else(|| AwsError::new(ErrorKind::Other, "Athena started a query without an id"))
    }

    /// Waits for query `id` to end, stopping it past `max_scanned` bytes;
    /// `on_progress` hears the bytes scanned so far.
    ///
    /// # Errors
    /// See [`QueryError`].
    pub async fn wait(
        &self,
        id: &str,
        max_scanned: Option<u64>,
        on_progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Finished, QueryError> {
        let mut pause = FIRST_POLL;
        loop {
            let out = self
                .client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(|e| QueryError::Call(AwsError::from_sdk(&e)))?;
            let Some(execution) = out.query_execution else {
                return Err(QueryError::Call(AwsError::new(
                    ErrorKind::Other,
                    format!("Athena said nothing of query {id}"),
                )));
            };
            let scanned = execution
                .statistics
                .as_ref()
                .and_then(|s| s.data_scanned_in_bytes)
                .map_or(0, |b| u64::try_from(b).unwrap_or(0));
            on_progress(scanned);
            let id = id.to_owned();
            let Some(status) = execution.status else {
                tokio::time::sleep(pause).await;
                continue;
            };
            match status.state {
                Some(QueryExecutionState::Succeeded) => {
                    return Ok(Finished {
                        id,
                        scanned_bytes: scanned,
                    });
                }
                Some(QueryExecutionState::Failed) => {
                    let reason = status
                        .state_change_reason
                        .or_else(|| status.athena_error.and_then(|e| e.error_message))
                        .unwrap_or_else(|| "no reason given".into());
                    return Err(QueryError::Failed { id, reason });
                }
                Some(QueryExecutionState::Cancelled) => return Err(QueryError::Cancelled { id }),
                _ => {}
            }
            if max_scanned.is_some_and(|max| scanned > max) {
                self.stop(&id).await;
                return Err(QueryError::TooBig { id, scanned });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_POLL);
        }
    }

    /// Asks Athena to stop query `id`; a failure to stop is not an error
    /// worth more than the stop itself.
    pub async fn stop(&self, id: &str) {
        let _ = self
            .client
            .stop_query_execution()
            .query_execution_id(id)
            .send()
            .await;
    }

    /// Pages through the result of query `id`, handing each data row (the
    /// header row left out) to `on_row` with each column's place by name.
    ///
    /// # Errors
    /// The call's error.
    pub async fn rows(&self, id: &str, on_row: &mut OnRow<'_>) -> Result<u64, AwsError> {
        let mut columns: HashMap<String, usize> = HashMap::new();
        let mut token: Option<String> = None;
        let mut first_page = true;
        let mut rows = 0;
        loop {
            let out = self
                .client
                .get_query_results()
                .query_execution_id(id)
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            let Some(set) = out.result_set else { break };
            if columns.is_empty()
                && let Some(meta) = &set.result_set_metadata
            {
                columns = meta
                    .column_info()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_owned(), i))
                    .collect();
            }
            let mut page = set.rows.unwrap_or_default().into_iter();
            if first_page {
                // Athena's first row of a SELECT's result is its header.
                page.next();
                first_page = false;
            }
            for row in page {
                let values: Vec<Option<String>> = row
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| d.var_char_value)
                    .collect();
                on_row(&columns, &values);
                rows += 1;
            }
            match out.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        Ok(rows)
    }
}
