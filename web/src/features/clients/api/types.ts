import type { Schemas } from '../../../api/client';

export type ClientView = Schemas['ClientView'];
export type Tier = Schemas['Tier'];
export type ScoreBreakdownData = Schemas['ScoreBreakdown'];
export type Decision = Schemas['Decision'];
export type Email = Schemas['Email'];
export type Preview = Schemas['Preview'];
export type ClientPatch = Schemas['ClientPatch'];

export const TIERS: Tier[] = ['champion', 'engaged', 'new', 'at_risk', 'lapsing', 'dormant'];


