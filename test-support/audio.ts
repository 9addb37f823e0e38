/** Builders and measurements shared by the audio tests: real WAV bytes, a plain FFT. */

export interface WavSpec {
  /** One array per channel, samples as floats in [-1, 1]. */
  channels: Float64Array[]
  sampleRate: number
  format: 'int' | 'float'
  bits: 8 | 16 | 24 | 32 | 64
  extensible?: boolean
  channelMask?: number
  /** Extra chunks before "fmt " and between "fmt " and "data", as real files have. */
  extraChunks?: boolean
}

/** Writes a WAV file the way common tools do (little-endian, padded chunks). */
export function buildWav(spec: WavSpec): Uint8Array {
  const channelCount = spec.channels.length
  const frames = spec.channels[0]!.length
  const bytesPerSample = spec.bits / 8
  const blockAlign = channelCount * bytesPerSample
  const dataLength = frames * blockAlign
  const fmtLength = spec.extensible ? 40 : 16
  const junk = spec.extraChunks ? [chunk('JUNK', new Uint8Array(27)), chunk('LIST', new TextEncoder().encode('INFOISFT\x06\x00\x00\x00test\x00\x00'))] : []

  const fmt = new Uint8Array(fmtLength)
  const f = new DataView(fmt.buffer)
  const tag = spec.format === 'float' ? 3 : 1
  f.setUint16(0, spec.extensible ? 0xfffe : tag, true)
  f.setUint16(2, channelCount, true)
  f.setUint32(4, spec.sampleRate, true)
  f.setUint32(8, spec.sampleRate * blockAlign, true)
  f.setUint16(12, blockAlign, true)
  f.setUint16(14, spec.bits, true)
  if (spec.extensible) {
    f.setUint16(16, 22, true)
    f.setUint16(18, spec.bits, true)
    f.setUint32(20, spec.channelMask ?? 0, true)
    f.setUint16(24, tag, true)
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26)
  }

  const data = new Uint8Array(dataLength)
  const d = new DataView(data.buffer)
  let p = 0
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channelCount; c++) {
      const x = Math.max(-1, Math.min(1, spec.channels[c]![i]!))
      if (spec.format === 'float') {
        if (spec.bits === 32) d.setFloat32(p, x, true)
        else d.setFloat64(p, x, true)
      } else if (spec.bits === 8) d.setUint8(p, Math.max(0, Math.min(255, Math.round(x * 128 + 128))))
      else if (spec.bits === 16) d.setInt16(p, clampInt(x * 32768, 16), true)
      else if (spec.bits === 24) {
        const v = clampInt(x * 8388608, 24)
        d.setUint8(p, v & 0xff)
        d.setUint8(p + 1, (v >> 8) & 0xff)
        d.setUint8(p + 2, (v >> 16) & 0xff)
      } else d.setInt32(p, clampInt(x * 2147483648, 32), true)
      p += bytesPerSample
    }
  }

  const body = concat([new TextEncoder().encode('WAVE'), ...junk.slice(0, 1), chunk('fmt ', fmt), ...junk.slice(1), chunk('data', data)])
  const header = new Uint8Array(8)
  header.set(new TextEncoder().encode('RIFF'))
  new DataView(header.buffer).setUint32(4, body.length, true)
  return concat([header, body])
}

function clampInt(v: number, bits: number): number {
  const max = 2 ** (bits - 1)
  return Math.max(-max, Math.min(max - 1, Math.round(v)))
}

export function chunk(id: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1))
  out.set(new TextEncoder().encode(id))
  new DataView(out.buffer).setUint32(4, body.length, true)
  out.set(body, 8)
  return out
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let p = 0
  for (const part of parts) {
    out.set(part, p)
    p += part.length
  }
  return out
}

export function sine(frequency: number, sampleRate: number, frames: number, amplitude = 0.5): Float64Array {
  return Float64Array.from({ length: frames }, (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate))
}

/** A deterministic stream of bytes (xorshift), for garbage that is the same on every run. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let s = seed | 1
  for (let i = 0; i < length; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = s & 0xff
  }
  return out
}

/** Strongest frequency (Hz) between `minHz` and `maxHz` in a Hann-windowed window of `size` samples. */
export function dominantFrequency(samples: ArrayLike<number>, start: number, size: number, sampleRate: number, minHz = 50, maxHz = 4000): number {
  const re = new Float64Array(size)
  const im = new Float64Array(size)
  for (let i = 0; i < size; i++) re[i] = (samples[start + i] ?? 0) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size))
  fft(re, im)
  let best = 0
  let bestBin = 0
  const lo = Math.ceil((minHz * size) / sampleRate)
  const hi = Math.floor((maxHz * size) / sampleRate)
  for (let b = lo; b <= hi; b++) {
    const m = re[b]! * re[b]! + im[b]! * im[b]!
    if (m > best) {
      best = m
      bestBin = b
    }
  }
  return (bestBin * sampleRate) / size
}

/** In-place radix-2 FFT; `re.length` must be a power of two. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1
    for (; j & bit; bit >>= 1) j ^= bit
    j ^= bit
    if (i < j) {
      const tr = re[i]!
      re[i] = re[j]!
      re[j] = tr
      const ti = im[i]!
      im[i] = im[j]!
      im[j] = ti
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len
    const half = len / 2
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const c = Math.cos(angle * k)
        const s = Math.sin(angle * k)
        const a = i + k
        const b = a + half
        const xr = re[b]! * c - im[b]! * s
        const xi = re[b]! * s + im[b]! * c
        re[b] = re[a]! - xr
        im[b] = im[a]! - xi
        re[a] = re[a]! + xr
        im[a] = im[a]! + xi
      }
    }
  }
}

export function rms(samples: ArrayLike<number>, scale = 32768): number {
  let sum = 0
  for (let i = 0; i < samples.length; i++) sum += (samples[i]! / scale) ** 2
  return Math.sqrt(sum / Math.max(1, samples.length))
}
