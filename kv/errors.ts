/**
 * The few error classes callers of kv/ are meant to catch (the admin API maps
 * them to 404 and 409). Bad input is a plain TypeError or RangeError whose
 * message names the field: `Cannot set "password": must be at least 5 characters`.
 */

/** The record the caller named does not exist. */
export class NotFoundError extends Error {
  /** Build the error; the message follows std style, e.g. `Cannot delete account "a@b.example": not found`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}

/** The change clashes with stored state: the record already exists, or is still in use. */
export class ConflictError extends Error {
  /** Build the error; the message follows std style, e.g. `Cannot add domain "b.example": already exists`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConflictError";
  }
}

/** Throw-ready error for a bad field value, in the one message shape kv/ uses. */
export function fieldError(
  field: string,
  reason: string,
  kind: "type" | "range" = "range",
): TypeError | RangeError {
  const message = `Cannot set "${field}": ${reason}`;
  return kind === "type" ? new TypeError(message) : new RangeError(message);
}
