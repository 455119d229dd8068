export const hello = (): string => 'wds';
