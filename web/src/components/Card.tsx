import { useId, type ReactNode } from 'react';
import styles from './Card.module.css';

/** A titled section of a page; its heading names the region for assistive technology. */
export function Card({
  title,
  description,
  actions,
  children,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <section className={styles.card} aria-labelledby={id}>
      <div className={styles.header}>
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {description && <p className={styles.description}>{description}</p>}
      {children}
    </section>
  );
}
