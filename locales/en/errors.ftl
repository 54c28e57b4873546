### Error messages, one per stable error code (`error-` and the code with
### hyphens). The same text answers the JSON API (in English) and the pages
### (in the visitor's language). Technical details for developers go into the
### JSON member `detail`, never into these texts.

## Page headings by HTTP status

error-title-401 = Please log in
error-title-403 = Not allowed
error-title-404 = Not found
error-title-413 = Too large
error-title-429 = Too many requests
error-title-503 = Temporarily unavailable
error-title-server = Technical error
error-title-other = That did not work

## Sessions, forms and the vault itself

error-not-logged-in = Please log in first.
error-csrf-token-invalid = The form has expired or did not come from this site. Please reload the page and try again.
error-confirmation-required = Please tick the box to confirm that you want to erase your account.
error-not-found = This does not exist or you may not see it.
error-internal-error = Something went wrong on our side. Nothing was changed. Please try again later.
error-keys-unavailable = The vault cannot reach its key store (HSM) right now. Nothing was released. Please try again in a moment.
error-store-unavailable = The vault cannot reach its database right now. Nothing was changed. Please try again in a moment.
error-audit-unavailable = This could not be recorded in the audit log, so nothing was done. Please try again later.
error-request-timeout = This took too long and was stopped. Please try again in a moment.
error-service-unavailable = The service is busy or partly unavailable. Nothing was changed. Please try again later.
error-rate-limited = Too many requests in a short time. Please wait a moment and try again.
error-too-many-refusals = Too many refused requests from this certificate in a short time. Check the requests, then try again later.

## Requests the vault could not read

error-bad-request = The request could not be read.
error-invalid-request = The request could not be processed.
error-invalid-path = The address contains a part that is not valid.
error-invalid-query = The address contains a parameter that is not valid or appears more than once.
error-invalid-form = The form data could not be read. Please reload the page and try again.
error-invalid-json = The request body is not valid JSON for this call.
error-invalid-encoding = The request contains text that is not UTF-8.
error-unsupported-media-type = The request was sent in a format this address does not accept. Send JSON as application/json.
error-method-not-allowed = This address does not take this kind of request (the Allow header lists the methods it takes).
error-body-too-large = The request is larger than this address accepts.
error-unauthorized = This needs a login or a client certificate.
error-forbidden = This is not allowed.

## Evidence and uploads

error-unknown-evidence-type = This type of evidence does not exist.
error-invalid-fields = Some fields are not valid: { $fields }.
error-file-not-allowed = This type of evidence does not take a file.
error-unsupported-file-type = Only PDF, PNG and JPEG files can be uploaded.
error-invalid-file-name = The file name contains control characters or invisible formatting characters (such as text-direction marks or zero-width spaces). Please rename the file and choose it again.
error-file-too-large = The file is too large. The limit is { $limit }.
error-fields-too-large = The text of the upload is too long altogether.
error-value-too-long = The value of { $name } is too long.
error-invalid-multipart = The upload could not be read. Please try again.
error-too-many-parts = The upload has too many parts.
error-too-many-files = Only one file per evidence.
error-unknown-part = The upload has a part this vault does not know.
error-missing-type = The part “type” is missing.
error-upload-timed-out = { $reason ->
    [idle] No data arrived for { $seconds } seconds, so the upload was stopped. Nothing was stored. Please try again.
   *[total] The upload took too long and was stopped. Nothing was stored. Please try again.
}
error-too-many-uploads = You have other uploads in progress. Please wait until they are finished, then try again.
error-uploads-busy = Too many uploads are in progress right now. Nothing was stored. Please try again in a moment.

## Fields of an evidence (`fields` of an `invalid_fields` answer, and the
## upload form)

field-required = Please fill in this field.
field-unknown-field = This field does not belong to this kind of evidence.
field-too-long = Please enter at most { $max } characters.
field-invalid-characters = This field contains line breaks, tabs, control characters or invisible formatting characters (such as text-direction marks or zero-width spaces). Please remove them.
field-invalid-date = Please enter a valid date, for example 2024-03-31 or 31.03.2024.
field-invalid-money = Please enter an amount in euros, for example 1234.50.
field-invalid-integer = Please enter a whole number using digits only.
field-out-of-range = Please enter a whole number from { $min } to { $max }.
field-invalid-choice = Please choose one of the offered options.

## Logging in

error-login-level-too-low = This needs a more secure login. Please log in with your online ID card.
error-invalid-state = This login link was already used, has expired or was started in another browser. Please log in again.
error-invalid-login-hint = The login hint must be at most 256 bytes, without control characters or invisible formatting characters.
error-login-cancelled = The login was cancelled or refused.
error-missing-code = The login did not work. Please log in again.
error-no-issuer = No login service is configured.
error-unknown-issuer = This login service is not known.
error-invalid-level = The login level must be low, substantial or high.
error-idp-discovery-failed = The login service cannot be reached right now. Please try again later.
error-idp-configuration-invalid = The login did not work. Please log in again.
error-token-exchange-failed = The login did not work. Please log in again.
error-invalid-id-token = The login did not work. Please log in again.
error-invalid-logout-token = The logout token is not valid.
error-random-failed = The login did not work. Please log in again.

## Departments: certificates, requests and releases

error-certificate-required = This API is for departments: present your department's client certificate.
error-untrusted-proxy = A forwarded client certificate is accepted only from a configured proxy.
error-certificate-unknown-ca = The client certificate was not issued by a CA this vault trusts.
error-certificate-expired = The client certificate has expired.
error-certificate-not-yet-valid = The client certificate is not valid yet.
error-certificate-no-client-auth = The client certificate is not issued for client authentication.
error-certificate-revoked = The client certificate has been revoked.
error-certificate-unknown-department = The client certificate belongs to no department known to this vault.
error-certificate-ambiguous-department = The client certificate belongs to no department known to this vault.
error-certificate-pin-mismatch = The client certificate belongs to no department known to this vault.
error-certificate-malformed = The client certificate could not be read.
error-certificate-config = Department authentication is not set up correctly.
error-unknown-service = There is no such service. The services are listed in the vault's policy.
error-invalid-reference = The reference must be 1 to { $max } characters, without line breaks, control characters or invisible formatting characters (such as text-direction marks or zero-width spaces).
error-wrong-department = This grant or service belongs to another department.
error-wrong-service = This grant was given for another service.
error-grant-not-yet-valid = This grant is not valid yet.
error-grant-expired = This grant has expired. Ask the citizen for a new one.
error-grant-revoked = The citizen has revoked this grant.
error-grant-exhausted = This grant has been used as often as the citizen allowed.

## Consent: a citizen's answer to a request

error-request-expired = This request has expired. The department can send a new one.
error-request-answered = This request has already been answered.
error-invalid-decision = Please choose “Continue” or “Deny”.
error-no-fields-approved = Please choose at least one detail. Or deny the request.
error-field-not-in-policy = A chosen detail is not part of this service.
error-evidence-not-found = A chosen document no longer exists.
error-evidence-type-not-requested = The office does not need a chosen document.
error-one-document-per-type = Please choose only one document of each type.
error-field-without-document = Please choose a document for each detail.
error-document-without-field = Please share at least one detail from each document you choose.
error-duration-out-of-range = Please choose a duration from the list.
error-uses-out-of-range = Please choose a number from the list.
error-file-required = For this service the office needs the file. You cannot leave the file out here. If you do not want to give the file, deny the request.

## Audit log: citizens' pages and public proofs

error-invalid-cursor = “before” must be the number of an entry (a whole number).
error-invalid-limit = “limit” must be a whole number from 1 to { $max }.
error-no-checkpoint = No checkpoint has been signed yet.
error-invalid-tree-size = { $problem ->
    [not-a-number] The tree sizes “old” and “new” must be whole numbers of entries.
    [missing] “old” (a tree size) is missing.
    [order] The sizes must satisfy old ≤ new ≤ { $size } (the size of the log).
   *[no-proof] No proof exists for these sizes.
}

## Data-protection officers

error-staff-login-not-configured = There is no staff login here.
error-staff-not-logged-in = Please log in with your staff account first.
error-not-a-dpo = Only data-protection officers may see the audit log.
error-invalid-filter = { $problem ->
    [unknown-parameter] This filter does not exist.
    [repeated] Please give each filter only once.
    [refused-text] The value is too long or contains control characters or invisible formatting characters.
    [not-a-time] Please give a date such as 2026-05-31.
    [unknown-action] This action does not exist.
    [unknown-outcome] This outcome does not exist.
    [not-an-identifier] Please use only letters, digits and - _ . : here.
    [not-a-citizen] This is not a valid citizen id.
    [not-a-sequence] Please give the number of an entry.
    [limit-out-of-range] Please give a number from 1 to 1000.
    [unknown-period] Please choose one of the offered periods.
    [to-before-from] The end date must not be before the start date.
   *[after-and-before] Please give either “after” (oldest first) or “before” (newest first), not both.
}

## Dates in three fields (day, month, year): what is wrong, naming the part
field-date-incomplete = Please also enter { $parts }.
field-date-part-day = the day
field-date-part-month = the month
field-date-part-year = the year
field-date-and = and
field-invalid-day = Please enter the day as a number from 1 to 31.
field-invalid-month = Please enter the month as a number from 1 to 12.
field-invalid-year = Please enter the year with four digits, for example 2007.
field-year-out-of-range = Please enter a year from { $min } to { $max }.
field-no-such-date = This date does not exist: the month does not have that many days. Please check the day and the month.
field-ambiguous-money = This amount can be read in two ways. Please write it without a thousands separator, for example 1234 or 1.23.
