### Reasons of audit entries in words (the DPO's results table); the
### exports and the JSON keep the stored codes.

reason-dpo-page = Query on the log page
reason-dpo-entries = Query through the API
reason-dpo-stats = Statistics viewed
reason-dpo-verify = Log verified
reason-dpo-export-csv = Exported as a CSV file
reason-dpo-export-jsonl = Exported as a JSON Lines file
reason-feedback-read = Accessibility feedback read
reason-data-export = All own data downloaded
reason-not-a-dpo = Not listed as a data protection officer
reason-wrong-department = Another office than in the approval
reason-wrong-service = Another service than in the approval
reason-grant-not-yet-valid = Approval not yet valid
reason-grant-expired = Approval expired
reason-grant-revoked = Approval taken back
reason-grant-exhausted = Approval used up
reason-login-level-too-low = Login security level too low
reason-invalid-id-token = Login confirmation not valid
reason-token-exchange-failed = Login at the provider failed
reason-keys-opened = Keys opened (version { $version })
