// CSP DateTime (reference imps-csp.md §7): ISO 8601 basic format in UTC, "20070625T055652Z".

export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
