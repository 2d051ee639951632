import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual, utf8Bytes } from "../../../mls/codec/bytes.js";
import { decode } from "../../../mls/codec/reader.js";
import { encode } from "../../../mls/codec/writer.js";
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import {
  confirmationTag,
  decodeEpochSecrets,
  deriveEpochSecret,
  deriveEpochSecrets,
  deriveJoinerSecret,
  deriveWelcomeSecret,
  encodeEpochSecrets,
  externalInitReceive,
  externalInitSend,
  externalKeyPair,
  keySchedule,
  keyScheduleFromJoiner,
  mlsExporter,
  verifyConfirmationTag,
  welcomeKeyNonce,
  zeroSecret,
} from "../../../mls/schedule/key-schedule.js";
import { pskSecret } from "../../../mls/schedule/psk.js";
import { interimTranscriptHash } from "../../../mls/schedule/transcript.js";
import { outcome as code } from "../outcome.js";

const cs = nativeProvider.suite(1);
const ctx = utf8Bytes("serialized group context");
const secret32 = fc.uint8Array({ minLength: 32, maxLength: 32 });


describe("key schedule", () => {
  it("agrees between members (from init_secret) and joiners (from joiner_secret)", () => {
    fc.assert(
      fc.property(secret32, secret32, secret32, (init, commit, psk) => {
        const full = keySchedule(cs, init, commit, psk, ctx);
        expect(bytesEqual(full.joinerSecret, deriveJoinerSecret(cs, init, commit, ctx))).toBe(true);
        const joiner = keyScheduleFromJoiner(cs, full.joinerSecret, psk, ctx);
        expect(joiner.welcomeSecret).toEqual(full.welcomeSecret);
        expect(joiner.epochSecrets).toEqual(full.epochSecrets);
        expect(deriveWelcomeSecret(cs, full.joinerSecret, psk)).toEqual(full.welcomeSecret);
        expect(deriveEpochSecrets(cs, deriveEpochSecret(cs, full.joinerSecret, psk, ctx))).toEqual(full.epochSecrets);
      }),
      { numRuns: 20 },
    );
  });

  it("binds the group context and the PSK secret", () => {
    const a = keySchedule(cs, zeroSecret(cs), zeroSecret(cs), zeroSecret(cs), ctx).epochSecrets;
    const b = keySchedule(cs, zeroSecret(cs), zeroSecret(cs), zeroSecret(cs), utf8Bytes("other")).epochSecrets;
    const c = keySchedule(cs, zeroSecret(cs), zeroSecret(cs), new Uint8Array(32).fill(1), ctx).epochSecrets;
    expect(bytesEqual(a.epochAuthenticator, b.epochAuthenticator)).toBe(false);
    expect(bytesEqual(a.epochAuthenticator, c.epochAuthenticator)).toBe(false);
    const all = Object.values(a).map((v) => Buffer.from(v).toString("hex"));
    expect(new Set(all).size).toBe(9);
  });

  it("persists epoch secrets", () => {
    const s = keySchedule(cs, zeroSecret(cs), zeroSecret(cs), zeroSecret(cs), ctx).epochSecrets;
    expect(decode(decodeEpochSecrets, encode(encodeEpochSecrets, s))).toEqual(s);
    expect(code(() => decode(decodeEpochSecrets, encode(encodeEpochSecrets, s).subarray(1)))).not.toBe("ok");
  });

  it("derives the welcome key and nonce of the AEAD's sizes", () => {
    const { key, nonce } = welcomeKeyNonce(cs, new Uint8Array(32));
    expect([key.length, nonce.length]).toEqual([cs.aead.nk, cs.aead.nn]);
  });

  it("exports secrets bound to label, context and length", () => {
    const x = new Uint8Array(32).fill(3);
    const a = mlsExporter(cs, x, "label", utf8Bytes("ctx"), 42);
    expect(a.length).toBe(42);
    expect(mlsExporter(cs, x, "label2", utf8Bytes("ctx"), 42)).not.toEqual(a);
    expect(mlsExporter(cs, x, "label", utf8Bytes("ctx2"), 42)).not.toEqual(a);
  });

  it("gives both sides of an external init the same init_secret", () => {
    const external = externalKeyPair(cs, new Uint8Array(32).fill(8));
    const { kemOutput, initSecret } = externalInitSend(cs, external.publicKey);
    expect(initSecret.length).toBe(cs.kdf.nh);
    expect(externalInitReceive(cs, external.privateKey, kemOutput)).toEqual(initSecret);
    expect(code(() => externalInitReceive(cs, external.privateKey, new Uint8Array(3)))).not.toBe("ok");
  });

  it("computes and checks confirmation tags", () => {
    const key = new Uint8Array(32).fill(1);
    const cth = new Uint8Array(32).fill(2);
    const tag = confirmationTag(cs, key, cth);
    verifyConfirmationTag(cs, key, cth, tag);
    expect(code(() => verifyConfirmationTag(cs, key, new Uint8Array(32), tag))).toBe("InvalidConfirmationTag");
    // Group creation (§11): interim = Hash("" || confirmation_tag<V>).
    expect(interimTranscriptHash(cs, new Uint8Array(0), tag)).toEqual(cs.hash.digest(new Uint8Array([32, ...tag])));
  });

  it("gives the zero vector as psk_secret without PSKs, and depends on PSK order", () => {
    expect(pskSecret(cs, [])).toEqual(new Uint8Array(32));
    const p = (n: number) => ({ id: { pskType: "external" as const, pskId: new Uint8Array([n]), pskNonce: new Uint8Array(32) }, psk: new Uint8Array([n]) });
    expect(pskSecret(cs, [p(1), p(2)])).not.toEqual(pskSecret(cs, [p(2), p(1)]));
  });
});
