/**
 * Builds ARF feedback reports (RFC 5965) for tests, shaped like the RFC's
 * Appendix B example, about a message that carried `relayId` in its header.
 */

/** Options of {@linkcode arfReport}. */
export interface ArfOptions {
  relayId: string | null;
  feedbackType?: string;
  /** How the reported message is attached. */
  attach?: "rfc822" | "rfc822-base64" | "headers";
  boundary?: string;
}

/** A complete report message (header and body, CRLF line ends, no final dot). */
export function arfReport(options: ArfOptions): string {
  const boundary = options.boundary ?? "part1_13d.2e68ed54_boundary";
  const stamp = options.relayId === null ? "" : `X-Relay-ID: ${options.relayId}\r\n`;
  const original = "Received: from client.test ([192.0.2.1])\r\n" +
    "\tby relay.test with ESMTPSA id 00000000000000A;\r\n" +
    "\tThu, 08 Mar 2026 14:00:00 +0000\r\n" +
    stamp +
    "From: <user@example.net>\r\nTo: <victim@example.com>\r\nSubject: Earn money\r\n" +
    "Message-ID: <8787KJKJ3K4J3K4J3K4J3.mail@example.net>\r\n\r\n" +
    "Spam Spam Spam\r\nhttp://spam.example/\r\n";
  const attach = options.attach ?? "rfc822";
  const third = attach === "headers"
    ? "Content-Type: text/rfc822-headers\r\n\r\n" + original.split("\r\n\r\n")[0] + "\r\n"
    : attach === "rfc822-base64"
    ? "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      btoa(original).replace(/.{76}/g, "$&\r\n") + "\r\n"
    : "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + original;
  return "From: <abusedesk@example.com>\r\n" +
    "Date: Thu, 8 Mar 2026 17:40:36 +0000\r\n" +
    "Subject: FW: Earn money\r\n" +
    "To: <fbl@relay.test>\r\n" +
    "MIME-Version: 1.0\r\n" +
    "Content-Type: multipart/report; report-type=feedback-report;\r\n" +
    `     boundary="${boundary}"\r\n` +
    "\r\n" +
    `--${boundary}\r\n` +
    'Content-Type: text/plain; charset="US-ASCII"\r\n' +
    "Content-Transfer-Encoding: 7bit\r\n\r\n" +
    "This is an email abuse report for an email message received from IP\r\n" +
    "192.0.2.1 on Thu, 8 Mar 2026 14:00:00 +0000.\r\n\r\n" +
    `--${boundary}\r\n` +
    "Content-Type: message/feedback-report\r\n\r\n" +
    `Feedback-Type: ${options.feedbackType ?? "abuse"}\r\n` +
    "User-Agent: SomeGenerator/1.0\r\n" +
    "Version: 1\r\n" +
    "Original-Mail-From: <user@example.net>\r\n" +
    "Original-Rcpt-To: <victim@example.com>\r\n" +
    "Arrival-Date: Thu, 8 Mar 2026 14:00:00 +0000\r\n" +
    "Source-IP: 192.0.2.1\r\n" +
    "Authentication-Results: mail.example.com;\r\n" +
    "               spf=pass smtp.mail=user@example.net\r\n\r\n" +
    `--${boundary}\r\n` +
    third +
    `--${boundary}--\r\n`;
}
