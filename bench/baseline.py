#!/usr/bin/env python3
"""Python baseline for `make bench`: the same work as the appliance's every-frame path, written the usual
way with OpenCV and ONNX Runtime: decode vtest.avi, resize to 512x512 RGB float, run CenterNet, keep
scores > 0.4, scale boxes back, class-wise NMS; count people per frame.

Prints one JSON object: frames/s end to end, frames/s of the model alone, mean people per frame.
usage: baseline.py MODEL VIDEO THREADS
"""
import json
import sys
import time

import cv2
import numpy as np
import onnxruntime as ort


def nms(boxes, scores, iou):
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        ovr = inter / (area[i] + area[order[1:]] - inter + 1e-9)
        order = order[1:][ovr <= iou]
    return keep


def main():
    model, video, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cv2.setNumThreads(threads)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    out = "tower_0/detections"
    cap = cv2.VideoCapture(video)
    frames = 0
    people = 0
    infer_s = 0.0
    t0 = time.perf_counter()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        h, w = bgr.shape[:2]
        rgb = cv2.cvtColor(cv2.resize(bgr, (512, 512), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        x = rgb.astype(np.float32)[None]
        t = time.perf_counter()
        det = sess.run([out], {inp: x})[0][0]
        infer_s += time.perf_counter() - t
        det = det[det[:, 4] > 0.4]
        boxes = det[:, :4] * np.array([w / 512, h / 512, w / 512, h / 512], dtype=np.float32)
        for c in np.unique(det[:, 5]):
            idx = np.where(det[:, 5] == c)[0]
            kept = nms(boxes[idx], det[idx, 4], 0.5)
            if int(c) == 0:
                people += len(kept)
        frames += 1
    total = time.perf_counter() - t0
    print(json.dumps({
        "frames": frames,
        "fps_end_to_end": frames / total,
        "fps_model_alone": frames / infer_s,
        "mean_people": people / max(frames, 1),
        "onnxruntime": ort.__version__,
        "threads": threads,
    }))


if __name__ == "__main__":
    main()
