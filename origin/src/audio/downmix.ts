/**
 * Weights that fold a multichannel layout into stereo (ITU-style: centre and surrounds at -3 dB,
 * LFE dropped), scaled so that full-scale input on every channel cannot clip.
 */

const SPEAKER = {
  FL: 0x1,
  FR: 0x2,
  FC: 0x4,
  LFE: 0x8,
  BL: 0x10,
  BR: 0x20,
  FLC: 0x40,
  FRC: 0x80,
  BC: 0x100,
  SL: 0x200,
  SR: 0x400,
  TC: 0x800,
  TFL: 0x1000,
  TFC: 0x2000,
  TFR: 0x4000,
  TBL: 0x8000,
  TBC: 0x10000,
  TBR: 0x20000,
} as const

const MINUS_3DB = Math.SQRT1_2

/** [left, right] weight per speaker bit. */
const SPEAKER_WEIGHTS = new Map<number, [number, number]>([
  [SPEAKER.FL, [1, 0]],
  [SPEAKER.FR, [0, 1]],
  [SPEAKER.FC, [MINUS_3DB, MINUS_3DB]],
  [SPEAKER.LFE, [0, 0]],
  [SPEAKER.BL, [MINUS_3DB, 0]],
  [SPEAKER.BR, [0, MINUS_3DB]],
  [SPEAKER.FLC, [MINUS_3DB, 0]],
  [SPEAKER.FRC, [0, MINUS_3DB]],
  [SPEAKER.BC, [0.5, 0.5]],
  [SPEAKER.SL, [MINUS_3DB, 0]],
  [SPEAKER.SR, [0, MINUS_3DB]],
  [SPEAKER.TC, [0.5, 0.5]],
  [SPEAKER.TFL, [MINUS_3DB, 0]],
  [SPEAKER.TFC, [0.5, 0.5]],
  [SPEAKER.TFR, [0, MINUS_3DB]],
  [SPEAKER.TBL, [MINUS_3DB, 0]],
  [SPEAKER.TBC, [0.5, 0.5]],
  [SPEAKER.TBR, [0, MINUS_3DB]],
])

/** WAVE's default layouts when a file gives a channel count but no mask. */
function defaultMask(channels: number): number {
  const { FL, FR, FC, LFE, BL, BR, BC, SL, SR } = SPEAKER
  switch (channels) {
    case 1:
      return FC
    case 2:
      return FL | FR
    case 3:
      return FL | FR | FC
    case 4:
      return FL | FR | BL | BR
    case 5:
      return FL | FR | FC | BL | BR
    case 6:
      return FL | FR | FC | LFE | BL | BR
    case 7:
      return FL | FR | FC | LFE | BC | SL | SR
    case 8:
      return FL | FR | FC | LFE | BL | BR | SL | SR
    default:
      return 0
  }
}

/** Returns [leftWeights, rightWeights], one weight per source channel. */
export function stereoDownmixWeights(channels: number, channelMask = 0): [Float64Array, Float64Array] {
  const mask = channelMask !== 0 ? channelMask : defaultMask(channels)
  const left = new Float64Array(channels)
  const right = new Float64Array(channels)
  // Channels take the mask's set bits in ascending order; any beyond them have no position.
  let bit = 1
  for (let c = 0; c < channels; c++) {
    while (bit !== 0 && bit <= 0x20000 && (mask & bit) === 0) bit <<= 1
    const weights = bit <= 0x20000 && (mask & bit) !== 0 ? SPEAKER_WEIGHTS.get(bit) : undefined
    const [l, r] = weights ?? [0.5, 0.5]
    left[c] = l
    right[c] = r
    if (weights) bit <<= 1
  }
  let peak = 0
  for (const side of [left, right]) {
    let sum = 0
    for (const w of side) sum += w
    peak = Math.max(peak, sum)
  }
  if (peak > 0) {
    for (let c = 0; c < channels; c++) {
      left[c] = left[c]! / peak
      right[c] = right[c]! / peak
    }
  }
  return [left, right]
}
