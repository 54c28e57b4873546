### The pages a public body must offer: accessibility statement with its
### feedback form, Leichte Sprache, sign language, privacy notice, imprint,
### contact; the footer links to them; the DPO's page of feedback messages.
### The city's names and addresses come from the `[city]` configuration.

## Footer

info-footer-nav-label = Help and legal information
info-nav-accessibility = Accessibility
info-nav-easy-read = Easy read
info-nav-sign-language = Sign language
info-nav-privacy = Privacy
info-nav-imprint = Imprint
info-nav-contact = Contact

## Shared by the pages

info-example-notice = Example: these details are examples for the test installation. The city enters its own details.
info-not-configured = The city has not entered these details yet.
info-label-name = City
info-label-office = Responsible office
info-label-address = Address
info-label-phone = Telephone
info-label-email = Email
info-label-hours = Opening hours
info-label-website = Website

## Accessibility statement

accessibility-title = Accessibility statement
accessibility-intro = The city wants everyone to be able to use tresor well. This statement covers every page of tresor.
accessibility-provider = Who provides tresor?
accessibility-status-heading = How accessible is tresor?
accessibility-status-full = tresor fully meets the rules of BITV 2.0, the German accessibility regulation.
accessibility-status-partial = tresor partly meets the rules of BITV 2.0, the German accessibility regulation. What is missing is listed below.
accessibility-status-none = tresor does not yet meet the rules of BITV 2.0. What is missing is listed below.
accessibility-status-unknown = The city has not checked tresor yet.
accessibility-limits-heading = What is not accessible yet?
# One barrier per line.
accessibility-limits-list =
    tresor does not check the files you upload. So a PDF may have barriers.
    Logging in with the online ID happens on another site. Its provider is responsible for it.
    Not every page has a video in sign language yet.
    The pages for the city's data protection have wide tables. On a phone you scroll them sideways.
accessibility-method-heading = How did the city check this?
accessibility-method = The city checked tresor itself. Every page was tested with a checking tool and with the keyboard only.
accessibility-date-label = Statement last updated
accessibility-feedback-heading = Report a barrier
accessibility-feedback-intro = Have you found a barrier? Or do you need content in another form? Write to us. You do not need to log in.
accessibility-feedback-message = Your message
accessibility-feedback-message-hint = What does not work, and on which page? At most 5,000 characters.
accessibility-feedback-contact = How can we reach you? (optional)
accessibility-feedback-contact-hint = For example your email address. Only if you would like an answer. At most 200 characters.
accessibility-feedback-send = Send message
accessibility-feedback-sent = Thank you! Your message has arrived. The city reads every message.
accessibility-feedback-other-ways = You can also reach us like this:
accessibility-feedback-message-empty = Please write your message.
accessibility-feedback-message-too-long = Your message is too long. At most 5,000 characters.
accessibility-feedback-invalid-characters = The text contains invisible control characters. Please type it again.
accessibility-feedback-contact-too-long = This is too long. At most 200 characters.
accessibility-enforcement-heading = Enforcement procedure
accessibility-enforcement-text = Are you not happy with our answer? Then you can turn to the conciliation body (Schlichtungsstelle). The procedure is free. You do not need a lawyer.

## Easy read (plain English, one idea per line)

easy-read-title = tresor in easy read
easy-read-intro = On this page we explain tresor in easy words.
easy-read-what-heading = What is tresor?
easy-read-what =
    tresor is a website of the city.
    tresor is like a safe.
    A safe is a strong box for important things.
    In tresor you can keep your papers.
    We call these papers evidence.
    For example your pay slip.
    Or a letter from your landlord about your rent.
easy-read-use-heading = What can you do with tresor?
easy-read-use =
    You put your papers into tresor once.
    Sometimes an office needs your papers.
    For example the office for housing benefit.
    Then the office asks you in tresor.
    You decide.
    You can say yes.
    You can also say no.
    You can take back your yes later.
easy-read-who-heading = Who sees your data?
easy-read-who =
    Your data is locked with a secret code.
    This means: nobody can just read it.
    Only you see your data.
    An office sees only the data you allow.
    tresor writes down every time someone looks.
    You can check: who has seen my data?
easy-read-login-heading = How do you log in?
easy-read-login =
    You need your ID card.
    You log in with your ID card.
    This is called the online ID.
    You also need a phone or a card reader.
easy-read-delete-heading = Can you delete your data?
easy-read-delete =
    Yes.
    You can delete each paper.
    You can also delete your whole account.
    Then all your data is gone.
easy-read-help-heading = Who helps you?
easy-read-help =
    Do you have questions?
    Then call the city.
    Or write an email.
    Here you find how to reach the city:
easy-read-contact-link = Contact the city

## Sign language

sign-language-title = Sign language
sign-language-intro = Here you find a video in German Sign Language (DGS). The video explains what tresor is and how to use it.
sign-language-video-link = Watch the video in German Sign Language
sign-language-video-note = The video is on another website of the city.
sign-language-no-video = The city has not entered a video yet. Please ask the city.

## Privacy notice (GDPR Art. 13)

privacy-title = Privacy notice
privacy-intro = This page says which of your data tresor processes, why and for how long. And which rights you have.
privacy-controller-heading = Who is responsible?
privacy-dpo-heading = Data protection officer
privacy-dpo-intro = If you have questions about data protection, you can contact the city's data protection officer directly.
privacy-purposes-heading = What does tresor process your data for?
privacy-purposes-list =
    To store your evidence safely, until you delete it.
    To give your data to an office, when you allow it.
    To write down every access, so that you and data protection can check it.
    To log you in safely, with your online ID.
privacy-legal-heading = On which legal basis?
privacy-legal-list =
    Sharing with an office: your consent (Art. 6(1)(a) GDPR).
    Storing your evidence: a task in the public interest (Art. 6(1)(e) GDPR).
    Log of accesses: the legal duty to show data protection (Art. 6(1)(c), Art. 5(2) GDPR).
privacy-recipients-heading = Who receives your data?
privacy-recipients-list =
    Only the office you allow. Only the details you allow.
    The provider who runs the servers. It sees your evidence only encrypted.
    Nobody else. tresor sends no data to countries outside the EU.
privacy-processor-label = Servers run by
privacy-retention-heading = How long does tresor keep your data?
privacy-retention-evidence = Your evidence: until you delete it or your account.
privacy-retention-log = Entries in the log of accesses
privacy-retention-session = Your login ends after { $idle } minutes without use. It always ends after { $absolute } hours at the latest.
privacy-rights-heading = What rights do you have?
privacy-rights-list =
    To know which data we hold about you (Art. 15 GDPR). You can download all your data.
    To have wrong data corrected (Art. 16 GDPR).
    To have your data deleted (Art. 17 GDPR). You can delete your account yourself.
    To restrict the processing (Art. 18 GDPR).
    To get your data in a common format (Art. 20 GDPR).
    To object to the processing (Art. 21 GDPR).
    You can take back any approval at any time (Art. 7(3) GDPR).
privacy-my-data-link = Download all my data
privacy-complaint-heading = Complaints
privacy-complaint-text = You can complain to the supervisory authority for data protection (Art. 77 GDPR).
privacy-voluntary-heading = Do you have to use tresor?
privacy-voluntary-text = No. You can also hand in your evidence at the office. Nothing about you is decided automatically.
privacy-cookies-heading = Which cookies does tresor set?
privacy-cookies-text = tresor only sets cookies it needs: for the login, the language and the display. There is no advertising and no tracking.

## Imprint

imprint-title = Imprint
imprint-provider-heading = Provider
imprint-representative = Represented by
imprint-vat-id = VAT identification number
imprint-content-responsible = Responsible for the content
imprint-contact-heading = Contact

## Contact

contact-title = Contact
contact-intro = Do you have questions about tresor? This is how to reach the city.
contact-dpo-heading = Questions about data protection
contact-accessibility-heading = Report a barrier
contact-accessibility-link = Go to the form for barriers

## DPO: the feedback messages

dpo-nav-feedback = Feedback
dpo-feedback-title = Accessibility feedback
dpo-feedback-intro = Messages from the form of the accessibility statement, newest first. Every visit to this page is in the log.
dpo-feedback-empty = There is no feedback yet.
dpo-feedback-received = Received
dpo-feedback-language = Language of the page
dpo-feedback-contact = Contact
dpo-feedback-no-contact = not given
dpo-feedback-older = Older feedback

info-nav-services = What each office may ask for
services-title = Which office may ask for which data
services-intro = For each service, this page says which details an office may ask you for, what for and for how long. It may not ask for more. You decide each time whether you share the details.
services-list-label = Services
services-department = Office
services-purpose = What for
services-legal-basis = Legal basis
services-fields = The office may receive these details
services-files = Files
services-files-none = No file. The office receives only the details listed.
services-files-required = The document's file. It shows more than the details listed.
services-files-optional = The document's file, only if you agree. It shows more than the details listed. You can leave it out.
services-duration = At most this long
services-days = days
services-uses = At most this many retrievals
services-level = Login needed
services-other-ways = Other ways
services-json-link = This list as open data (JSON)
