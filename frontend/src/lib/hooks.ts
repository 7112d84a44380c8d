import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import type { ThunkDispatch, UnknownAction } from '@reduxjs/toolkit';
import type { WithSession } from './session';

export const useAppSelector = useSelector.withTypes<WithSession>();
export const useAppDispatch = useDispatch.withTypes<ThunkDispatch<WithSession, unknown, UnknownAction>>();

export function useDebouncedValue<T>(value: T, delayMs = 300): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(id);
  }, [value, delayMs]);
  return debounced;
}

/** Live countdown in seconds (for 429 Retry-After). */
export function useCountdown(seconds: number | undefined): number {
  const [left, setLeft] = useState(seconds ?? 0);
  const [prev, setPrev] = useState(seconds);
  if (prev !== seconds) {
    setPrev(seconds);
    setLeft(seconds ?? 0);
  }
  useEffect(() => {
    if (!left) return;
    const id = setTimeout(() => setLeft((s) => Math.max(0, s - 1)), 1000);
    return () => clearTimeout(id);
  }, [left]);
  return left;
}

/** Current time, refreshed every `intervalMs` (keeps render pure). */
export function useNow(intervalMs = 60_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}
