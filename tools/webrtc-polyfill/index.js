// Why: node-datachannel (the real polyfill's backend) downloads a binary at install time, which
// fails on machines that reach only the npm registry. @roamhq/wrtc ships its binary in the package.
import wrtc from '@roamhq/wrtc'
export const RTCPeerConnection = wrtc.RTCPeerConnection
export const RTCSessionDescription = wrtc.RTCSessionDescription
export const RTCIceCandidate = wrtc.RTCIceCandidate
export default wrtc
