### Pages of data-protection officers: audit query, statistics, verification.

## Data-protection officers

dpo-nav-label = Data protection menu
dpo-nav-query = Query the log
dpo-nav-stats = Statistics
dpo-nav-verify = Verify the log
dpo-logout = Log out
dpo-staff-status = You are logged in as data-protection officer.
dpo-staff-login = Log in as staff
dpo-query-title = Query the access log
dpo-query-intro = Every query is itself recorded in the log.
dpo-filter-legend = Filters
dpo-field-from = From (date, UTC)
dpo-field-to = Up to and including (date, UTC)
dpo-field-action = Action
dpo-field-outcome = Outcome
dpo-field-department = Department
dpo-field-service = Service
dpo-field-citizen = Citizen id
dpo-any-option = All
dpo-outcome-success = successful
dpo-outcome-refused = refused
dpo-outcome-failed = failed
dpo-search = Search
dpo-results-caption = Matching entries, newest first
dpo-no-results = No entries match these filters.
dpo-column-sequence = No.
dpo-column-time = Time (UTC)
dpo-column-actor = Who
dpo-column-subject = Concerns
dpo-column-reason = Reason
dpo-next-page = More entries
dpo-export-heading = Export
dpo-export-csv = Download as a CSV file
dpo-export-jsonl = Download as a JSON Lines file
dpo-stats-title = Accesses per department and month
dpo-stats-intro = We count releases to departments. Months are in German time.
dpo-stats-empty = There were no accesses in this period.
dpo-stats-table-caption = Accesses per department and month as a table
dpo-stats-chart-title = Bar chart: accesses per department and month
dpo-stats-column-month = Month
dpo-stats-column-granted = Accesses
dpo-stats-column-refused = Refused attempts
dpo-unknown-department = no department
dpo-verify-ok = The log is unchanged. Every check passed.
dpo-verify-failed = The check found problems
dpo-verify-what = What was checked

## Statistics chart

stats-chart-summary = { $bars } bars with { $total } accesses in all. The largest bar shows { $largest }.

## What the verification of the audit log found

verify-tree-recomputed = The hash tree was recomputed from all { $entries } entries. { $bodies } entry texts match their hash and the search columns. { $pruned } texts were deleted after the retention period.
verify-checkpoints-matched = { $count } signed checkpoints match the recomputed tree.
verify-latest-checkpoint = Latest checkpoint: { $size } entries, root hash { $root }. The signature is valid.
verify-no-checkpoint-yet = There is no signed checkpoint yet.
verify-sequence-gap = Entry { $expected } is missing. Entries were deleted or renumbered.
verify-tail-missing = The log counts { $head_size } entries, but only { $log_size } are stored. The last entries are missing.
verify-body-mismatch = Entry { $index }: the text does not match its hash or its number. It was changed.
verify-column-mismatch = Entry { $index }: the search column “{ $column }” does not match the signed text. The entry was hidden from or moved between queries.
verify-signature-invalid = Checkpoint over { $size } entries: the signature is not valid.
verify-checkpoint-beyond-log = A checkpoint names { $size } entries, but only { $entries } are stored. Entries are missing.
verify-root-mismatch = Checkpoint over { $size } entries: the root hash does not match. The log was changed.
verify-store-unreadable = The stored entries are damaged or have gaps.
verify-no-witnesses = No independent witnesses are configured: nobody outside the city confirms that the log only grows.
verify-witness-cosigned = Witness { $name } cosigned the checkpoint over { $size } entries.
verify-witness-not-yet = Witness { $name } has not cosigned a checkpoint since start.
verify-witness-trouble = Witness { $name } cannot be reached or refuses right now ({ $problem }).
verify-witness-rollback = Witness { $name } has already seen { $witness_size } entries, but the log has only { $log_size }. It was rolled back or cut short.
verify-witness-fork = Witness { $name } refuses: the { $size } entries do not extend the { $old_size } it confirmed. The log's history was changed.

## Data-protection officers' pages in plain words

action-request-expire = Request expired
action-policy-load = Rules loaded
action-key-operation = Key used
action-audit-query = Log queried by data protection
dpo-actor-citizen = Citizen
dpo-citizen-hint = The pseudonymous id: 32 characters from 0–9 and a–f. You find it in the column “Concerns”. Leave empty for all.
dpo-short-id-hint = The ids are shortened. Click an id under “Concerns” to see all entries about this person.
dpo-period-label = Period
dpo-period-all = All months
dpo-period-show = Show
dpo-results-caption-oldest-first = Matching entries, oldest first
dpo-period-last = { $count ->
    [1] Last month
   *[other] Last { $count } months
}
dpo-period-shown = Shown: { $first } to { $last }.
dpo-period-shown-all = Shown: all months up to { $last }.
month-year = { $month ->
    [1] January
    [2] February
    [3] March
    [4] April
    [5] May
    [6] June
    [7] July
    [8] August
    [9] September
    [10] October
    [11] November
   *[12] December
} { $year }
