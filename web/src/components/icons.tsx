/** Inline icons (decorative: the buttons that hold them carry the labels). */
import type { ReactElement } from "react";

function Svg({ children, size = 18 }: { children: ReactElement | ReactElement[]; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      {children}
    </svg>
  );
}

export const PlusIcon = () => <Svg><path d="M12 5v14M5 12h14" /></Svg>;
export const PencilIcon = () => <Svg size={16}><path d="M12 20h9" /><path d="M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4Z" /></Svg>;
export const TrashIcon = () => <Svg size={16}><path d="M3 6h18M8 6V4h8v2M19 6l-1 14H6L5 6" /></Svg>;
export const SendIcon = () => <Svg><path d="M12 19V5M5 12l7-7 7 7" /></Svg>;
export const StopIcon = () => <svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" focusable="false"><rect width="14" height="14" rx="2" fill="currentColor" /></svg>;
export const MenuIcon = () => <Svg><path d="M4 6h16M4 12h16M4 18h16" /></Svg>;
export const CloseIcon = () => <Svg><path d="M6 6l12 12M18 6 6 18" /></Svg>;
export const CopyIcon = () => <Svg size={15}><rect x="9" y="9" width="12" height="12" rx="2" /><path d="M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1" /></Svg>;
export const CheckIcon = () => <Svg size={15}><path d="m5 12 5 5L20 7" /></Svg>;
export const RefreshIcon = () => <Svg size={15}><path d="M21 12a9 9 0 1 1-3-6.7L21 8" /><path d="M21 3v5h-5" /></Svg>;
export const ChevronLeft = () => <Svg size={14}><path d="m15 18-6-6 6-6" /></Svg>;
export const ChevronRight = () => <Svg size={14}><path d="m9 18 6-6-6-6" /></Svg>;
export const LogoutIcon = () => <Svg size={16}><path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9" /></Svg>;
export const Logo = () => (
  <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
    <rect width="32" height="32" rx="8" fill="var(--accent)" />
    <path d="M9 11h14M9 16h10M9 21h6" stroke="#fff" strokeWidth="2.5" strokeLinecap="round" />
  </svg>
);
