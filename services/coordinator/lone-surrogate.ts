/** A lone UTF-16 surrogate: a JS string can hold one, UTF-8 (LevelDB, the wire) cannot, and turns it into U+FFFD. */
export const LONE_SURROGATE = /[\uD800-\uDFFF]/u
