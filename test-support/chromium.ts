/** Debian's chromium, which tools/test-deps.sh installs (CHROMIUM_PATH to use another). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Chromium's flags for the tests that run the web player: loopback WebRTC needs host candidates
 * without mDNS names; audio starts without a user gesture (and is muted); nothing reaches off the
 * machine; a page in the background keeps its timers and rendering.
 */
export const PLAYER_CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--mute-audio',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
]
