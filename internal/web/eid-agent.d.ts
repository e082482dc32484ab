// Types for eid-agent.js, the client of the eid-agent bridge protocol
// version 1 (docs/protocol.md). The Reading members follow
// docs/reading-json.md.

export declare const DEFAULT_URL: "ws://127.0.0.1:8877/ws";
export declare const PROTOCOL: 1;

/** Codes the agent sends (docs/protocol.md, Errors). */
export type AgentErrorCode =
  | "ORIGIN_NOT_ALLOWED" | "HOST_NOT_ALLOWED" | "UNAUTHORIZED" | "OTHER_USER" | "TOO_MANY_CONNECTIONS"
  | "BAD_REQUEST" | "HELLO_REQUIRED" | "UNSUPPORTED_PROTOCOL" | "UNKNOWN_TYPE" | "TOO_LARGE" | "RATE_LIMITED"
  | "NO_READER" | "READER_NOT_FOUND" | "AMBIGUOUS_READER" | "NO_CARD" | "CARD_REMOVED" | "NOT_BELPIC" | "NO_KEY"
  | "PIN_WRONG" | "PIN_BLOCKED" | "PIN_CANCELLED" | "PIN_TIMEOUT"
  | "BUSY_TIMEOUT" | "CONSENT_DENIED" | "CANCELLED" | "INTERNAL";

/** Codes this client raises itself. */
export type ClientErrorCode =
  | "AGENT_UNREACHABLE" | "HANDSHAKE_REFUSED" | "CONNECTION_CLOSED" | "TIMEOUT" | "ABORTED" | "PROTOCOL_ERROR";

/** Codes of later agents are passed through as they come. */
export type ErrorCode = AgentErrorCode | ClientErrorCode | (string & {});

export interface Messages {
  en: string;
  nl?: string;
  fr?: string;
  de?: string;
}

export declare const CLIENT_ERRORS: Readonly<Record<ClientErrorCode, Required<Messages>>>;

export declare class EidAgentError extends Error {
  constructor(code: ErrorCode, message?: string, extra?: {
    messages?: Partial<Messages>;
    retries?: number;
    detail?: string;
    cause?: unknown;
  });
  readonly name: "EidAgentError";
  readonly code: ErrorCode;
  /** English, Dutch, French and German messages (the agent's, or the client's own). */
  readonly messages: Readonly<Messages>;
  /** PIN_WRONG: tries left, when known. */
  readonly retries?: number;
  /** English detail for developers. */
  readonly detail?: string;
  /** The message in lang ("nl", "fr-BE", …), English when not available. */
  localized(lang?: string): string;
  static fromWire(error: unknown): EidAgentError;
}

export interface Hello {
  server: "eid-agent";
  version: string;
  protocol: number;
  protocols: number[];
  /** "readers", "events", "read", "authenticate", "sign", "reading-proof", and with some agents "isi", "simulator", … */
  features: string[];
  /** The origin the agent signs for on this connection. */
  origin?: string;
}

export interface Reader {
  name: string;
  card: "none" | "belpic" | "unknown";
  appletVersion?: string;
  pinPad: boolean;
}

export type CardEventName = "reader-added" | "reader-removed" | "card-inserted" | "card-removed";

/** A card or reader event; never personal data. */
export interface CardEvent {
  event: CardEventName;
  reader: string;
  card?: string;
  [member: string]: unknown;
}

export interface Progress {
  id: number | string;
  /** "queued", "pin", "reading", "signing", … */
  step: string;
  percent?: number;
}

export type ReadField = "card" | "identity" | "address" | "photo" | "photoSha256" | "certificates" | "integrity";

export type Verdict = "valid" | "invalid" | "missing";

export interface CardInfo {
  cardNumber?: string;
  chipNumber?: string;
  validFrom?: string;
  validUntil?: string;
  issuingMunicipality?: string;
  documentType?: number;
  documentTypeName?: string;
  appletVersion?: string;
  reader?: string;
  atr?: string;
  componentCode?: string;
  osNumber?: string;
  osVersion?: string;
  softmaskNumber?: string;
  softmaskVersion?: string;
  lifeCycle?: string;
  pki?: "rsa" | "ec";
}

export interface Identity {
  nationalNumber?: string;
  surname?: string;
  firstNames?: string;
  thirdInitial?: string;
  nationality?: string;
  birthPlace?: string;
  birthDate?: string;
  gender?: string;
  nobleCondition?: string;
  specialStatus?: string;
  duplicate?: string;
  photoHash?: string;
  specialOrganisation?: string;
  memberOfFamily?: boolean;
  dateAndCountryOfProtection?: string;
  workPermit?: string;
  employerVat1?: string;
  employerVat2?: string;
  regionalFileNumber?: string;
  basicKeyHash?: string;
  brexitMention1?: string;
  brexitMention2?: string;
  cardAMention1?: string;
  cardAMention2?: string;
  euStartDate?: string;
}

export interface Address {
  streetAndNumber?: string;
  zip?: string;
  municipality?: string;
}

export interface Certificates {
  authentication?: string;
  signing?: string;
  ca?: string;
  root?: string;
  rrn?: string;
}

export interface Integrity {
  identity?: Verdict;
  address?: Verdict;
  photo?: Verdict;
  basicKey?: Verdict;
  rrnChain?: "trusted" | "untrusted";
  nationalNumber?: "valid" | "invalid";
  cardNumber?: "valid" | "invalid";
  [detail: `${string}Detail`]: string | undefined;
}

/** Exactly the members that were asked for (docs/reading-json.md). */
export interface Reading {
  card?: CardInfo;
  identity?: Identity;
  address?: Address;
  /** base64 JPEG */
  photo?: string;
  /** hex SHA-256 of the JPEG */
  photoSha256?: string;
  certificates?: Certificates;
  integrity?: Integrity;
}

/** A Web eID "web-eid:1.0" authentication token. */
export interface WebEidToken {
  unverifiedCertificate: string;
  algorithm: string;
  signature: string;
  format: string;
  appVersion: string;
}

export type HashFunction =
  | "SHA-224" | "SHA-256" | "SHA-384" | "SHA-512" | "SHA3-224" | "SHA3-256" | "SHA3-384" | "SHA3-512";

export interface SignatureAlgorithm {
  cryptoAlgorithm: "ECC" | "RSA";
  hashFunction: HashFunction;
  paddingScheme: "NONE" | "PKCS1.5" | "PSS";
}

export interface SigningCertificate {
  certificate: string;
  supportedSignatureAlgorithms: SignatureAlgorithm[];
}

export interface Signature {
  signature: string;
  signatureAlgorithm: SignatureAlgorithm;
}

/** An ISI+ card scanned (the scanner's raw string) or typed in. */
export type IsiInput =
  | { raw: string }
  | {
      manual: {
        ssin: string;
        /** reason code required for manual entry */
        reason?: string;
        cardNumber?: string;
        lastName?: string;
        firstName?: string;
        birthDate?: string;
        [member: string]: unknown;
      };
    };

/** The agent's answer to isi.submit (the ISI+ reading and its proof). */
export interface IsiResult {
  ssin?: string;
  ssinKind?: "NN" | "BIS";
  birthDate?: string;
  gender?: string;
  proof?: Record<string, unknown>;
  [member: string]: unknown;
}

/** proofs.list: the caller's own records (docs/protocol.md). */
/** The fields an attestation may release. */
export type AttestField = "identity" | "address" | "photo";

export interface AttestOptions extends ReaderOptions {
  /** The authentication key signs the same challenge (the PIN is asked). */
  withAuthentication?: boolean;
}

/** eid-attestation:1 (docs/verify.md); byte strings are base64. */
export interface Attestation {
  format: "eid-attestation:1";
  origin: string;
  nonce: string;
  fields: AttestField[];
  bundle: Record<string, string>;
  challenge?: string;
  chipSignature?: string;
  authentication?: { certificate: string; caCertificate?: string; algorithm: "ES384" | "RS384"; signature: string };
}

export interface CounterOptions extends RequestOptions {
  /** The server's nonce for the next card-read's attestation. */
  nonce?: string;
}

export interface CounterPairing {
  fields: string[];
  attestation: boolean;
  revocation: boolean;
}

export interface CardRead {
  reader: string;
  /** Exactly the pairing's fields, as read returns them (identity may hold only some members). */
  reading: Partial<Reading>;
  attestation?: Attestation;
  attestationError?: { code: string; message: string; detail?: string };
}

export interface CardRevocation {
  reader: string;
  status: "good" | "revoked" | "unknown" | "unavailable" | "none";
  detail?: string;
}

export interface ProofsQuery {
  since?: string;
  until?: string;
  ssin?: string;
  support?: string;
  /** newest N, 1 to 1000 (default 100) */
  limit?: number;
  /** every caller's records: needs the administrator's "proofs-all" grant */
  all?: boolean;
  [member: string]: unknown;
}

export type BinaryLike = string | Uint8Array | ArrayBuffer | ArrayBufferView;

export interface RequestOptions {
  /** progress events of this request */
  onProgress?: (progress: Progress) => void;
  /** milliseconds; 0 waits forever (default 120000) */
  timeout?: number;
  /** abandons the wait (the agent may still finish the operation) */
  signal?: AbortSignal;
}

export interface ReaderOptions extends RequestOptions {
  /** reader name from readers(); omitted: the only reader holding a card */
  reader?: string;
}

export interface ConnectOptions {
  /** handshake plus hello, milliseconds (default 10000; 0: no limit) */
  timeout?: number;
  /** default timeout of requests (default 120000) */
  requestTimeout?: number;
  /** makes the socket (Node: pass headers such as Origin) */
  createSocket?: (url: string) => WebSocket;
  /** on a failed handshake, tell an absent agent from a refusal with a no-cors fetch (default true) */
  probe?: boolean;
}

export type Unsubscribe = () => void;

export declare class EidAgentClient {
  constructor(socket: WebSocket, opts?: { requestTimeout?: number });
  hello: Hello | null;
  readonly version: string | undefined;
  readonly features: string[];
  readonly origin: string | undefined;
  readonly closed: boolean;
  hasFeature(feature: string): boolean;

  request<T = unknown>(type: string, params?: object, opts?: RequestOptions): Promise<T>;

  on(event: "*", handler: (event: CardEvent) => void): Unsubscribe;
  on(event: CardEventName, handler: (data: { reader: string; card?: string }) => void): Unsubscribe;
  on(event: "close" | "error", handler: (error: EidAgentError) => void): Unsubscribe;
  on(event: string, handler: (data: any) => void): Unsubscribe;
  close(): void;

  readers(opts?: RequestOptions): Promise<Reader[]>;
  subscribe(handler?: (event: CardEvent) => void, opts?: RequestOptions): Promise<Unsubscribe>;
  read(fields: readonly ReadField[], opts?: ReaderOptions): Promise<Reading>;
  authenticate(nonce: string, opts?: ReaderOptions): Promise<WebEidToken>;
  signingCertificate(opts?: ReaderOptions): Promise<SigningCertificate>;
  sign(certificate: BinaryLike, hash: BinaryLike, hashFunction: HashFunction, opts?: ReaderOptions): Promise<Signature>;
  readingProof(nonce: string, fields: readonly ReadField[], opts?: ReaderOptions): Promise<Record<string, unknown>>;
  /** A presence attestation for the server's nonce (feature "attest"). */
  attest(nonce: string, fields: readonly AttestField[], opts?: AttestOptions): Promise<Attestation>;
  /** Joins counter mode (feature "counter"); events card-read, card-removed, card-revocation follow. */
  counter(opts?: CounterOptions): Promise<CounterPairing>;
  on(event: "card-read", handler: (data: CardRead) => void): Unsubscribe;
  on(event: "card-revocation", handler: (data: CardRevocation) => void): Unsubscribe;
  isiSubmit(input: IsiInput, opts?: RequestOptions): Promise<IsiResult>;
  proofsList(query?: ProofsQuery, opts?: RequestOptions): Promise<unknown>;
  simulatorInsert(profile?: string, opts?: RequestOptions): Promise<unknown>;
  simulatorRemove(opts?: RequestOptions): Promise<unknown>;
}

export declare function connect(url?: string, opts?: ConnectOptions): Promise<EidAgentClient>;

export declare function toBase64(bytes: BinaryLike): string;

export interface CaptureScanOptions {
  /** longest pause between a scanner's keystrokes (default 30 ms) */
  maxInterKeyMs?: number;
  /** shortest scan (default 8 characters) */
  minLength?: number;
  /** keys that end a scan (default ["Enter"]) */
  terminators?: string[];
  /** put back the text field's value from before the burst (default true) */
  restoreInput?: boolean;
}

export declare function captureScan(
  target: EventTarget,
  onScan: (raw: string) => void,
  opts?: CaptureScanOptions,
): () => void;
