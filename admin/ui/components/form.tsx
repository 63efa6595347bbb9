/** Form fields that show the server's validation error right under the input they concern. */

import type { ComponentChildren } from "preact";

/** Errors by field name; `_` holds an error that names no field. */
export type FieldErrors = Record<string, string>;

/** A labelled control with its error. */
export function Field(
  props: {
    label: string;
    name: string;
    errors?: FieldErrors;
    hint?: string;
    children: ComponentChildren;
  },
) {
  const error = props.errors?.[props.name];
  return (
    <label class={error ? "field has-error" : "field"} data-field={props.name}>
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && !error ? <span class="hint">{props.hint}</span> : null}
      {error ? <span class="field-error" role="alert">{error}</span> : null}
    </label>
  );
}

/** A text input bound to a value. */
export function TextInput(
  props: {
    name: string;
    value: string;
    onInput: (value: string) => void;
    type?: "text" | "password" | "search" | "email";
    placeholder?: string;
    disabled?: boolean;
    autocomplete?: string;
  },
) {
  return (
    <input
      name={props.name}
      type={(props.type ?? "text") as "text"}
      value={props.value}
      placeholder={props.placeholder}
      disabled={props.disabled}
      autocomplete={props.autocomplete ?? "off"}
      onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
    />
  );
}

/** A checkbox with its label on the right. */
export function Checkbox(
  props: {
    name: string;
    label: string;
    checked: boolean;
    onChange: (checked: boolean) => void;
    errors?: FieldErrors;
    disabled?: boolean;
  },
) {
  const error = props.errors?.[props.name];
  return (
    <label class={error ? "check has-error" : "check"} data-field={props.name}>
      <input
        type="checkbox"
        name={props.name}
        checked={props.checked}
        disabled={props.disabled}
        onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
      <span>{props.label}</span>
      {error ? <span class="field-error" role="alert">{error}</span> : null}
    </label>
  );
}

/** A select over fixed options. */
export function Select(
  props: {
    name: string;
    value: string;
    options: readonly (string | [string, string])[];
    onChange: (value: string) => void;
  },
) {
  return (
    <select
      name={props.name}
      value={props.value}
      onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
    >
      {props.options.map((o) => {
        const [value, label] = typeof o === "string" ? [o, o] : o;
        return <option key={value} value={value} selected={value === props.value}>{label}</option>;
      })}
    </select>
  );
}

/** The error that names no field, above a form's buttons. */
export function FormError(props: { errors: FieldErrors }) {
  return props.errors._ ? <p class="form-error" role="alert">{props.errors._}</p> : null;
}
