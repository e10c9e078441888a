// Mapping of API field errors ({"error":{"field":"protocols[0].port"}}) onto form items.

/** fieldMatches reports whether an error on errorField belongs to the form item field. */
export function fieldMatches(errorField: string | null | undefined, field: string): boolean {
  if (!errorField) return false
  return errorField === field || errorField.startsWith(`${field}.`) || errorField.startsWith(`${field}[`)
}

/** FieldFeedback is what a Naive UI form item takes to show an error. */
export interface FieldFeedback {
  validationStatus?: 'error'
  feedback?: string
}

/** fieldFeedback returns the form item props for field under an error. */
export function fieldFeedback(err: { field: string | null; message: string } | null, field: string): FieldFeedback {
  if (!err || !fieldMatches(err.field, field)) return {}
  return { validationStatus: 'error', feedback: err.message }
}
