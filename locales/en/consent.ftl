### Consent: a department's access request, step-up login, the citizen's grants.

## Consent (a department's access request) and grants

nav-grants = My approvals
go-to-my-grants = Go to my approvals
consent-who-heading = Who is asking and why?
consent-department = Office
consent-service = Service
consent-purpose = Why the office needs the data
consent-legal-basis = Legal basis
consent-reference = The office's case reference
consent-answer-until = You can answer until
consent-you-decide = You decide. The office only gets what you choose here.
consent-choose-heading = Which data do you want to share?
consent-choose-intro = Choose one document for each type of evidence. You can leave out single details.
consent-files-shared = The office also gets the file of the document, for example the PDF.
consent-which-document = Which document?
consent-do-not-share = Do not share this document
consent-which-details = Which details?
consent-not-given = (not given)
consent-no-document = You have not stored a document of this type yet.
consent-no-document-nothing-shared = So the office gets nothing of this type.
consent-come-back = After the upload you come back to this page.
consent-limits-legend = How long and how often?
consent-duration-label = For how long may the office get the data?
consent-uses-label = How often may the office get the data?
consent-revoke-later = You can take back your approval at any time. Go to “My approvals”.
consent-approve = Share
consent-deny = Deny
step-up-title = A more secure login is needed
step-up-how-high = You can do this with your online ID. For example with your ID card and your PIN.
step-up-how-other = You can do this with your online ID, for example.
step-up-no-data-yet = We show your data only after the new login.
step-up-button = Log in again
request-expired-title = This request has expired
request-expired-text = You cannot answer any more. The office got no data. The office can send you a new request.
request-answered-title = This request has already been answered
request-answered-text = Each request can only be answered once.
request-not-found-title = This request does not exist
request-not-found-text = Please check the link. Or ask the office for a new link.
grants-title = My approvals
grants-intro = Here you see which offices may get your data. You can take back every approval at once.
grants-empty = You have not shared any data yet.
grants-fields = Details shared
grants-given-on = Given on
grants-valid-until = Valid until
grants-uses = Uses
grants-status = Status
grant-status-active = active
grant-status-expired = expired
grant-status-revoked = revoked
grant-status-used-up = used up
grants-revoke-now = Revoke now
grants-notice-approved = You shared the data. The office can get it now.
grants-notice-denied = You denied the request. The office gets no data.
grants-notice-revoked = You took back your approval. From now on the office cannot get the data.

## Sentences with names and numbers

consent-heading = { $department } asks for your data
step-up-who = { $department } asks for data for: { $service }.
step-up-levels = For this you must log in with security level “{ $required }”. You are logged in with “{ $current }” now.
duration-hint = At most { $days }. That is until { $date }.
uses-hint = At most { $times }.
document-from = Document from { $date }
file-shared = The office also gets the file “{ $name }” ({ $kind }, { $size }).
uses-of = { $uses } of { $max }

## Revoking an approval

grants-with-files = The office also gets the file of each chosen document.
revoke-confirm-title = Take back this approval?
revoke-stops = After that, { $department } can no longer get this data.
revoke-fetched-stays = What the office has already fetched stays with the office. If you want it deleted, please ask the office.
revoke-confirm-button = Yes, take back the approval
revoke-keep = No, keep the approval

## Contact and what denying means

consent-contact = How to reach the office
consent-deny-heading = If you deny
consent-deny-means = Then the office gets no data from here. Your application is not refused because of this: you can also hand in the documents another way.

## Consent: the summary before sending, and the file

consent-continue = Continue
consent-file-legend = The document's file
consent-file-shows-more = The file shows everything in the document – also details you do not tick above. For example: if you do not tick “Given names”, the given names are still in the file.
consent-file-needed = For this service the office needs the file. If you do not want to give the file, deny the request. You can also hand in your documents another way.
consent-file-leave-out = Do not send the file
consent-file-leave-out-hint = Then the office only gets the ticked details. The office can still ask you for the file later.
consent-summary-title = Please check what you share
consent-summary-nothing-yet = Nothing is shared yet. The office only gets the data when you press “Share” below.
consent-summary-to-whom = To whom?
consent-summary-which-data = Which data?
consent-summary-file = File
consent-summary-file-none = No file. The chosen documents have no file.
consent-summary-file-left-out = No file. You do not send the file.
consent-summary-file-shows-more = The file shows everything in the document – also details you did not tick.
consent-summary-how-long = Until when?
consent-summary-how-often = How often?
consent-summary-change = Change
consent-summary-share-hint = With “Share” you share this data with the office. You can take back your approval at any time.
grants-files-left-out = You did not send the files.
consent-summary-until = until { $date } ({ $days })
