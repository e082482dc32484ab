// Compiled (never run) by `tsc --noEmit` (TestTypeScript in web_test.go):
// uses every part of eid-agent.d.ts the way a page would, and asserts with
// expect-error directives that misuse does not compile.
import {
  connect, captureScan, EidAgentError, EidAgentClient, DEFAULT_URL, PROTOCOL, CLIENT_ERRORS,
  type Reading, type WebEidToken, type CardEvent, type Reader, type Hello, type IsiResult,
  type Attestation, type CounterPairing, type CardRead, type CardRevocation,
} from "../eid-agent.js";

async function demo(): Promise<void> {
  const agent: EidAgentClient = await connect(DEFAULT_URL, { timeout: 5000, probe: true });
  const hello: Hello | null = agent.hello;
  const v: string | undefined = agent.version;
  const p: 1 = PROTOCOL;
  const hasIsi: boolean = agent.hasFeature("isi");
  const readers: Reader[] = await agent.readers();
  const off = await agent.subscribe((e: CardEvent) => { const r: string = e.reader; void r; });
  off();
  const reading: Reading = await agent.read(["identity", "photo", "integrity"], {
    reader: readers[0]?.name ?? "x",
    onProgress: (pr) => { const s: string = pr.step; void s; },
    timeout: 0,
  });
  const nn: string | undefined = reading.identity?.nationalNumber;
  const verdict: "valid" | "invalid" | "missing" | undefined = reading.integrity?.identity;
  const token: WebEidToken = await agent.authenticate("n".repeat(44));
  const cert = await agent.signingCertificate();
  const sig = await agent.sign(cert.certificate, new Uint8Array(48), "SHA-384");
  const alg: "ECC" | "RSA" = sig.signatureAlgorithm.cryptoAlgorithm;
  const proof = await agent.readingProof("n".repeat(44), ["identity"]);
  const att: Attestation = await agent.attest("n".repeat(44), ["identity", "photo"], { withAuthentication: true });
  const present: string | undefined = att.chipSignature;
  // @ts-expect-error an attestation releases identity, address and photo only
  await agent.attest("n".repeat(44), ["certificates"]);
  const pairing: CounterPairing = await agent.counter({ nonce: "n".repeat(44) });
  agent.on("card-read", (r: CardRead) => { const who: string | undefined = r.reading.identity?.surname; void who; void r.attestation?.nonce; });
  agent.on("card-revocation", (r: CardRevocation) => { const s: "good" | "revoked" | "unknown" | "unavailable" | "none" = r.status; void s; });
  void [att, present, pairing];
  const isi: IsiResult = await agent.isiSubmit({ raw: "12345678901" });
  await agent.isiSubmit({ manual: { ssin: "85073003328", reason: "1" } });
  await agent.proofsList({ ssin: "85073003328" });
  await agent.simulatorInsert("citizen-1.8");
  await agent.simulatorRemove();
  const raw: unknown = await agent.request("readers", undefined, { signal: new AbortController().signal });
  agent.on("card-inserted", (d) => { const r: string = d.reader; void r; });
  agent.on("close", (err) => { const c: string = err.code; void c; });
  agent.close();
  void [hello, v, p, hasIsi, nn, verdict, token, alg, proof, isi, raw];

  // @ts-expect-error: not a Reading field
  await agent.read(["feilds"]);
  // @ts-expect-error: not a hash function
  await agent.sign("AAAA", "AAAA", "MD5");
  // @ts-expect-error: ISI+ input is {raw} or {manual}
  await agent.isiSubmit({ ssin: "85073003328" });
}

try {
  await demo();
} catch (e) {
  if (e instanceof EidAgentError) {
    const text: string = e.localized(navigator.language);
    const nl: string | undefined = e.messages.nl;
    const retries: number | undefined = e.retries;
    void [text, nl, retries, CLIENT_ERRORS.CONNECTION_CLOSED.fr];
  }
}

const stop: () => void = captureScan(document, (raw: string) => { void raw; }, { maxInterKeyMs: 30, minLength: 8 });
stop();
// @ts-expect-error: onScan gets a string
captureScan(document, (raw: number) => { void raw; });
