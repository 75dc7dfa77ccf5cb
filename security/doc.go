// Package security answers the gateway's trust questions, each in its own
// file, with no actor or socket code, so transport and actors can ask them
// from any goroutine.
//
//   - Who is this? (jwt.go, keys.go, jwks.go, claims.go) NewVerifier builds a
//     Verifier for exactly one key source: an HS256 secret, an RSA or P-256
//     public key, or a JWKS URL. The algorithm allow-list is fixed by the key
//     (HS256 only with a secret, RS256 only with RSA, ES256 only with P-256,
//     never HS* through JWKS), which refuses "alg: none" and the HS/RS
//     confusion attack of a token signed with the public key as an HMAC
//     secret. exp is required, nbf honoured, iss and aud checked when
//     configured, and the gateway claims (sub, workspaceId, role,
//     workspaces) must have their declared types. A JWKS key set is
//     refreshed when a token names an unknown kid, at most once per
//     interval however many such tokens arrive, so random kids cannot turn
//     the gateway into a flood against the identity provider. Every failure
//     is a *messages.Error INVALID_TOKEN (AUTH_REQUIRED for no token) whose
//     cause stays in the logs; IsExpired tells an expired token apart.
//   - Where may they go? (rooms.go) ParseRoom accepts only the three room
//     shapes of docs/PROTOCOL.md, bounded in bytes, and CanJoin admits a user to
//     their own workspaces' rooms and their own user room only, so no room
//     is open to everyone and no name can be smuggled past the parser.
//   - What did they send? (actions.go, jsonobject.go) The Decode functions
//     read client event data with whitelist semantics: one JSON object,
//     known fields of the declared types and lengths, no unknown or
//     duplicate fields, so a payload means the same to every reader.
//   - What may they do? (policy.go) Policy maps a role to the
//     dashboard actions it may perform, least privilege by default: unknown
//     roles may do nothing.
//   - What went wrong, and who should know? (events.go, redact.go) EventLog
//     writes one structured WARN line per security event and counts every
//     event in ws_security_events_total; lines are rate-limited per source so
//     an attacker cannot flood the log, and every field goes through Redact
//     so no line carries a token.
//
// Concurrency: a Verifier, a Policy and an EventLog are safe for concurrent
// use; everything else is a pure function.
package security
