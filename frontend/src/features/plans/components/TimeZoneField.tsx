import { useMemo } from 'react';
import { TextField } from '@/components/ui/Field';
import { timeZones } from '@/lib/dates';

export function TimeZoneField({ value, onChange, error }: { value: string; onChange: (tz: string) => void; error?: string }) {
  const zones = useMemo(() => timeZones(), []);
  return (
    <div>
      <TextField label="Time zone" name="timezone" list="tz-list" value={value} onChange={(e) => onChange(e.target.value)} error={error} hint="IANA name, e.g. Europe/Berlin" autoComplete="off" data-testid="timezone" />
      <datalist id="tz-list">
        {zones.map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>
    </div>
  );
}
