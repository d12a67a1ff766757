/**
 * An email's HTML, shown in a sandbox with every permission withheld (`sandbox=""`):
 * no scripts, no forms, no navigation of the console, no same-origin access.
 */
export function EmailFrame({ html, title }: { html: string; title: string }) {
  return (
    <iframe
      sandbox=""
      srcDoc={html}
      title={title}
      style={{
        width: '100%',
        minHeight: '22rem',
        border: '1px solid var(--color-border)',
        borderRadius: 'var(--radius)',
        background: '#ffffff',
      }}
    />
  );
}
