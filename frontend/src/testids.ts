// Stable data-testid attributes for end-to-end tests (see TESTIDS.md).
import type { HTMLAttributes, InputHTMLAttributes } from 'vue'

/** inputTid puts a test id on the inner <input>/<textarea> of a Naive UI input. */
export function inputTid(id: string): InputHTMLAttributes {
  return { 'data-testid': id } as InputHTMLAttributes
}

/** rowTid marks a table row: data-testid=<prefix>-row, data-row-name=<name>. */
export function rowTid(prefix: string, name: string | number): Record<string, string> {
  return { 'data-testid': `${prefix}-row`, 'data-row-name': String(name) }
}

/** tidAttrs is a test id for props typed as HTMLAttributes (menu and dropdown options). */
export function tidAttrs(id: string): HTMLAttributes {
  return { 'data-testid': id } as HTMLAttributes
}
