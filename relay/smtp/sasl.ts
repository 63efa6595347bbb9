/**
 * SASL PLAIN (RFC 4616) and LOGIN decoding for SMTP AUTH (RFC 4954).
 *
 * Pure: base64 text in, credentials or a reason out.
 *
 * @module
 */

/** Credentials from a SASL exchange. */
export interface Credentials {
  authzid: string;
  login: string;
  password: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes strict base64 into UTF-8 text; null when either is invalid. */
export function decodeBase64Text(text: string): string | null {
  if (!BASE64.test(text)) return null;
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Encodes UTF-8 text as base64 (for the LOGIN prompts and test clients). */
export function encodeBase64Text(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Decodes a PLAIN response `authzid NUL authcid NUL passwd` (RFC 4616 §2).
 * "=" stands for an empty response (RFC 4954 §4).
 */
export function decodePlain(response: string): Credentials | null {
  const text = response === "=" ? "" : decodeBase64Text(response);
  if (text === null) return null;
  const parts = text.split("\0");
  if (parts.length !== 3) return null;
  const [authzid, login, password] = parts;
  if (login === "" || password === "") return null;
  return { authzid, login, password };
}

/** The LOGIN mechanism's prompts: "Username:" and "Password:" in base64. */
export const LOGIN_PROMPT = {
  username: "VXNlcm5hbWU6",
  password: "UGFzc3dvcmQ6",
} as const;
