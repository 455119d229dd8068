import { hello } from '@aim/webdataset';
export const hi = (): string => hello() + '!';
