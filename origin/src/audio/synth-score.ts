import { seeded } from '../../../protocol/index.js'

/**
 * Composes a demo track from a seed: tempo, key and mode, two chord progressions, an arrangement
 * in sections, and the notes and drum hits that play it. Values in, values out: rendering lives
 * in demo-music.ts.
 */

type Voice = 'bass' | 'lead' | 'arp'
type DrumKind = 'kick' | 'snare' | 'hat' | 'open-hat'
type SectionKind = 'intro' | 'verse' | 'chorus' | 'breakdown' | 'outro'

export interface NoteEvent {
  time: number
  duration: number
  midi: number
  velocity: number
  voice: Voice
}
/** A sustained chord for the pad, one a bar. */
interface ChordEvent {
  time: number
  duration: number
  midi: number[]
  velocity: number
}
interface DrumEvent {
  time: number
  kind: DrumKind
  velocity: number
}
interface Section {
  kind: SectionKind
  startBar: number
  bars: number
}

export interface Score {
  bpm: number
  barSeconds: number
  /** Pitch class of the tonic, 0 = C. */
  key: number
  mode: keyof typeof SCALES
  sections: Section[]
  pads: ChordEvent[]
  notes: NoteEvent[]
  drums: DrumEvent[]
}

const SCALES = {
  major: [0, 2, 4, 5, 7, 9, 11],
  minor: [0, 2, 3, 5, 7, 8, 10],
  dorian: [0, 2, 3, 5, 7, 9, 10],
} as const

/** Progressions as scale degrees (0 = tonic), one chord a bar. */
const PROGRESSIONS: Record<keyof typeof SCALES, number[][]> = {
  major: [
    [0, 4, 5, 3],
    [0, 5, 3, 4],
    [5, 3, 0, 4],
    [0, 3, 5, 4],
    [0, 2, 3, 4],
    [3, 4, 2, 5],
    [0, 3, 1, 4],
  ],
  minor: [
    [0, 5, 2, 6],
    [0, 3, 6, 2],
    [0, 5, 6, 4],
    [0, 3, 4, 0],
    [5, 6, 0, 0],
    [0, 6, 5, 6],
  ],
  dorian: [
    [0, 3, 0, 3],
    [0, 6, 3, 0],
    [0, 2, 3, 6],
    [0, 3, 6, 4],
  ],
}

const KICKS = [
  [0, 8],
  [0, 8, 10],
  [0, 6, 8],
  [0, 3, 8, 11],
  [0, 7, 10],
]
const BODY_CYCLE: SectionKind[] = ['verse', 'chorus', 'verse', 'chorus', 'breakdown', 'chorus']

export function composeScore(seed: number, durationSec: number): Score {
  const rng = seeded(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!
  const bpm = 80 + Math.floor(rng() * 44)
  const beat = 60 / bpm
  const barSeconds = beat * 4
  const key = Math.floor(rng() * 12)
  const mode = pick(['major', 'major', 'minor', 'minor', 'dorian'] as const)
  const scale = SCALES[mode]
  const verseChords = pick(PROGRESSIONS[mode])
  let chorusChords = pick(PROGRESSIONS[mode])
  if (chorusChords === verseChords) chorusChords = [...verseChords.slice(2), ...verseChords.slice(0, 2)]
  const sevenths = rng() < 0.5
  const swing = pick([0, 0, 0.1, 0.18])
  const kick = pick(KICKS)
  const halfTime = bpm > 112 && rng() < 0.5
  const arpUpDown = rng() < 0.5

  const sections = arrange(Math.ceil(durationSec / barSeconds))
  const pads: ChordEvent[] = []
  const notes: NoteEvent[] = []
  const drums: DrumEvent[] = []
  const jitter = (): number => (rng() - 0.5) * 0.008
  const sixteenth = beat / 4
  const slotTime = (bar: number, slot: number): number => bar * barSeconds + slot * sixteenth + (slot % 2 === 1 ? swing * sixteenth : 0)

  /** MIDI note of a scale degree counted from the tonic at `base` (degree 7 is an octave up). */
  const degreeMidi = (degree: number, base: number): number => base + key + 12 * Math.floor(degree / 7) + scale[((degree % 7) + 7) % 7]!
  const chordDegrees = (root: number): number[] => (sevenths ? [root, root + 2, root + 4, root + 6] : [root, root + 2, root + 4])

  const phrases = {
    verse: makePhrase(rng, verseChords, 2),
    chorus: makePhrase(rng, chorusChords, 5),
    breakdown: makePhrase(rng, chorusChords, 3),
  }

  let previousVoicing: number[] = []
  for (const [index, section] of sections.entries()) {
    const chords = section.kind === 'chorus' || section.kind === 'breakdown' ? chorusChords : verseChords
    const nextKind = sections[index + 1]?.kind
    for (let b = 0; b < section.bars; b++) {
      const bar = section.startBar + b
      const root = chords[b % chords.length]!
      const barStart = bar * barSeconds
      const kind = section.kind

      // Pad: the chord, voiced close to the last one so the changes glide.
      const voicing = voiceChord(
        chordDegrees(root).map((d) => degreeMidi(d, 48)),
        previousVoicing,
      )
      previousVoicing = voicing
      const padLevel = kind === 'chorus' ? 0.55 : kind === 'breakdown' ? 0.7 : 0.6
      pads.push({ time: barStart, duration: barSeconds * 0.98, midi: voicing, velocity: padLevel })

      // Bass.
      const bassRoot = degreeMidi(root, 36) >= 48 ? degreeMidi(root, 24) : degreeMidi(root, 36)
      if (kind === 'verse' || kind === 'chorus') {
        const pattern = kind === 'chorus' ? [0, 3, 6, 8, 10, 14] : [0, 6, 8, 14]
        for (const slot of pattern) {
          const octave = kind === 'chorus' && slot === 10 ? 12 : 0
          const fifth = slot === 14 ? 7 : 0
          notes.push({
            time: slotTime(bar, slot) + jitter(),
            duration: sixteenth * (slot === 0 || slot === 8 ? 3.5 : 1.6),
            midi: bassRoot + octave + fifth,
            velocity: slot % 8 === 0 ? 0.9 : 0.7,
            voice: 'bass',
          })
        }
      } else if (kind === 'breakdown' || kind === 'outro' || (kind === 'intro' && b >= section.bars / 2)) {
        notes.push({ time: barStart, duration: barSeconds * 0.9, midi: bassRoot, velocity: 0.65, voice: 'bass' })
      }

      // Lead: the section's phrase, its last bar varied on every second pass.
      if (kind === 'verse' || kind === 'chorus' || (kind === 'breakdown' && b >= 2)) {
        const phrase = phrases[kind]
        const pass = Math.floor(b / 4)
        for (const note of phrase) {
          if (Math.floor(note.slot / 16) !== b % 4) continue
          let degree = note.degree
          if (pass % 2 === 1 && b % 4 === 3) degree += note.slot % 4 === 0 ? 2 : -1
          const slot16 = note.slot % 16
          notes.push({
            time: slotTime(bar, slot16) + jitter(),
            duration: note.length * sixteenth,
            midi: degreeMidi(degree, 60),
            velocity: (kind === 'chorus' ? 0.85 : 0.7) * (0.85 + rng() * 0.15),
            voice: 'lead',
          })
        }
      }

      // Arpeggio: the chord in sixteenths, up (or up and down).
      if (kind === 'chorus' || (kind === 'intro' && b >= 1)) {
        const tones = chordDegrees(root).map((d) => degreeMidi(d, 60))
        const order = arpUpDown ? [...tones, ...tones.slice(1, -1).reverse()] : tones
        for (let slot = 0; slot < 16; slot++) {
          notes.push({
            time: slotTime(bar, slot),
            duration: sixteenth * 0.8,
            midi: order[slot % order.length]!,
            velocity: (kind === 'intro' ? 0.35 : 0.45) * (slot % 4 === 0 ? 1 : 0.75),
            voice: 'arp',
          })
        }
      }

      // Drums.
      const hats = kind === 'chorus' ? 16 : kind === 'verse' ? 8 : kind === 'intro' && b >= section.bars / 2 ? 4 : 0
      for (let slot = 0; slot < 16; slot += 16 / Math.max(1, hats)) {
        if (hats === 0) break
        const open = kind === 'chorus' && slot === 14
        drums.push({ time: slotTime(bar, slot) + jitter(), kind: open ? 'open-hat' : 'hat', velocity: (slot % 4 === 0 ? 0.9 : 0.6) * (0.85 + rng() * 0.15) })
      }
      const groove = kind === 'verse' || kind === 'chorus' || (kind === 'outro' && b < section.bars / 2)
      if (groove) {
        for (const slot of kick) drums.push({ time: slotTime(bar, slot), kind: 'kick', velocity: slot === 0 ? 1 : 0.85 })
        for (const slot of halfTime ? [8] : [4, 12]) drums.push({ time: slotTime(bar, slot) + jitter(), kind: 'snare', velocity: 0.9 })
        // A fill into the next section.
        if (b === section.bars - 1 && nextKind === 'chorus') {
          for (const slot of [13, 14, 15]) drums.push({ time: slotTime(bar, slot), kind: 'snare', velocity: 0.45 + (slot - 13) * 0.15 })
        }
      }
    }
  }
  return { bpm, barSeconds, key, mode, sections, pads, notes, drums }
}

/** Intro, a body cycling verse and chorus (with a breakdown), and an outro, filling `totalBars`. */
function arrange(totalBars: number): Section[] {
  const sections: Section[] = []
  const add = (kind: SectionKind, bars: number): void => {
    const startBar = sections.reduce((n, s) => n + s.bars, 0)
    sections.push({ kind, startBar, bars })
  }
  const introBars = totalBars >= 24 ? 4 : 2
  const outroBars = totalBars >= 24 ? 4 : 2
  add('intro', introBars)
  let remaining = totalBars - introBars - outroBars
  for (let i = 0; remaining > 0; i++) {
    const bars = remaining < 12 ? remaining : 8
    add(BODY_CYCLE[i % BODY_CYCLE.length]!, bars)
    remaining -= bars
  }
  add('outro', outroBars)
  return sections
}

interface PhraseNote {
  slot: number
  length: number
  degree: number
}

/**
 * A four-bar melody on a sixteenth grid (64 slots), as scale degrees around `centre`. Bars 3-4
 * reuse the rhythm of bars 1-2, re-aimed at their own chords, and strong beats land on chord
 * tones: that is what makes it sound like a tune rather than a random walk.
 */
function makePhrase(rng: () => number, chords: number[], centre: number): PhraseNote[] {
  const rhythm: number[] = []
  for (let slot = 0; slot < 32; slot += 2) {
    const p = slot % 16 === 0 ? 0.95 : slot % 4 === 0 ? 0.6 : 0.35
    if (rng() < p) rhythm.push(slot)
  }
  if (rhythm[0] !== 0) rhythm.unshift(0)
  const onsets = [...rhythm, ...rhythm.filter((s) => s < 24).map((s) => s + 32), 56]
  const lo = centre - 3
  const hi = centre + 8
  let degree = centre
  const notes: PhraseNote[] = []
  for (const [i, slot] of onsets.entries()) {
    const chordRoot = chords[Math.floor(slot / 16) % chords.length]!
    const strong = slot % 8 === 0
    if (strong || i === onsets.length - 1) {
      degree = nearestChordTone(degree + (rng() < 0.5 ? -1 : 1) * Math.floor(rng() * 3), chordRoot)
    } else {
      degree += [-2, -1, -1, 1, 1, 2, 0][Math.floor(rng() * 7)]!
    }
    if (degree < lo) degree = lo + (lo - degree)
    if (degree > hi) degree = hi - (degree - hi)
    const next = onsets[i + 1] ?? 64
    const gap = next - slot
    const length = i === onsets.length - 1 ? 8 : rng() < 0.25 ? Math.max(1, gap * 0.5) : gap * 0.95
    notes.push({ slot, length, degree })
  }
  return notes
}

function nearestChordTone(degree: number, chordRoot: number): number {
  for (let d = 0; d < 7; d++) {
    for (const candidate of [degree - d, degree + d]) {
      const rel = (((candidate - chordRoot) % 7) + 7) % 7
      if (rel === 0 || rel === 2 || rel === 4) return candidate
    }
  }
  return degree
}

/** Places each chord tone in the octave nearest the previous chord's centre. */
function voiceChord(tones: number[], previous: number[]): number[] {
  // Pulled back towards middle C each time, so a long song does not drift up or down the keyboard.
  const centre = previous.length ? (previous.reduce((a, b) => a + b, 0) / previous.length + 62) / 2 : 62
  return tones
    .map((t) => {
      let m = t
      while (m - centre > 6) m -= 12
      while (centre - m > 6) m += 12
      return Math.max(48, Math.min(76, m))
    })
    .sort((a, b) => a - b)
}
