/**
 * Regular-expression text for a literal string: every character that means something in a pattern
 * (`.*+?^${}()|[]\`) escaped, so that `new RegExp(literal(text))` matches `text` and nothing else.
 */
export function literal(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
