#!/usr/bin/env python3
"""A real RTSP server (gst-rtsp-server) on loopback for the reconnect test: serves a video file as H.264.

usage: rtsp_server.py PORT VIDEO   -> rtsp://127.0.0.1:PORT/cam
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, video = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( filesrc location="{video}" ! decodebin ! videoconvert ! '
    "x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 key-int-max=10 ! "
    "rtph264pay name=pay0 pt=96 config-interval=1 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on port " + port)
print("ready", flush=True)
GLib.MainLoop().run()
