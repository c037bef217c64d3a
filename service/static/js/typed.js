// What a user typed into a field: tokens, times and the JSON values they stand for.

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A typed token as JSON: a finite number when it is one, else the text (the API names it). */
export function jsonValue(token) {
  const text = token.trim();
  return NUMBER.test(text) && Number.isFinite(Number(text)) ? Number(text) : text;
}

/** Tokens separated by commas, semicolons or white space. */
export function tokens(text) {
  return text.split(/[\s,;]+/).filter((t) => t !== "");
}

/** Times separated by commas, semicolons or new lines (a time may hold a space). */
export function timeTokens(text) {
  return text
    .split(/[\n,;]+/)
    .map((t) => t.trim())
    .filter((t) => t !== "");
}
