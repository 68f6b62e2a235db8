#!/usr/bin/env bash
# "What people do today": find | zcat | jq | sort -u | jq, per-principal
# KMS counts (events, Decrypt calls, denied) with the report's rules.
# usage: jq_report.sh CORPUS_DIR [--check expected.json]
set -euo pipefail
dir=${1:?usage: jq_report.sh CORPUS_DIR [--check expected.json]}
export LC_ALL=C

# Stage 1: one compact line per KMS record: [eventID, eventTime, eventName, principal, denied, errorCode].
# Stage 2: sort -u drops the re-delivered/duplicated copies (they are byte-identical lines).
# Stage 3: group per principal.
report() {
  find "$dir" -path '*/CloudTrail/*' -not -path '*CloudTrail-Digest*' \
      \( -name '*.json.gz' -o -name '*.json' \) -print0 |
    xargs -0 zcat -f |
    jq -c '
      def principal: .userIdentity as $u |
        if ($u.type == "AssumedRole") and ($u.sessionContext.sessionIssuer.arn // null) != null
          then $u.sessionContext.sessionIssuer.arn
        elif ($u.type == "AWSService") and ($u.invokedBy // null) != null then $u.invokedBy
        else ($u.arn // $u.invokedBy // (if $u.accountId then "account:" + $u.accountId else null end)
              // $u.principalId // "unknown") end;
      .Records[] | select(.eventSource == "kms.amazonaws.com") |
      [.eventID, .eventTime, .eventName, principal,
       ((.errorCode // "") | (test("accessdenied"; "i") or endswith("UnauthorizedOperation"))),
       (.errorCode // "")]' |
    sort -u |
    jq -s -c '
      {events: length,
       denied: map(select(.[4])) | length,
       errors: map(select(.[5] != "" and (.[4] | not))) | length,
       principals: (group_by(.[3]) | map({principal: .[0][3], events: length,
                    decrypt: (map(select(.[2] == "Decrypt")) | length),
                    denied: (map(select(.[4])) | length)}) | sort_by(-.events))}'
}

if [[ ${2:-} == --check ]]; then
  expected=${3:?--check needs expected.json}
  out=$(report)
  jq -r -n --argjson got "$out" --slurpfile exp "$expected" '
    $exp[0] as $e |
    ([$got.principals[] | {key: .principal, value: [.events, .decrypt, .denied]}] | from_entries) as $g |
    ([$e.principals | to_entries[] | {key: .key, value: [.value.events, .value.decrypt, .value.denied]}] | from_entries) as $w |
    (if $got.events == $e.events and $got.denied == $e.denied and $got.errors == $e.errors and $g == $w
       then "OK" else "MISMATCH" end) as $status |
    "jq check: \($status) events=\($got.events)/\($e.events) denied=\($got.denied)/\($e.denied) errors=\($got.errors)/\($e.errors) principals=\($g | length)/\($w | length)"'
else
  report
fi
