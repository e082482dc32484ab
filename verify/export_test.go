package verify

// AttestationChallengeForTest exposes the verifier's own reading of the
// challenge rule to the external tests, which compare it with the agent's.
var AttestationChallengeForTest = attestationChallenge
