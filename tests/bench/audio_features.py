# audio_features.py: torchaudio's Kaldi MFCC (+ reading the WAV) on the first N FSDD files,
# the twin of audio_features.lua (CPU seconds, like os.clock there). Prints "torchaudio_seconds_per_file <s>".
# Usage: /usr/bin/python3 tests/bench/audio_features.py DIR N
import os, sys, time, wave
import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

torch.set_num_threads(1)
folder, n = sys.argv[1], int(sys.argv[2])
names = sorted(f for f in os.listdir(folder) if f.endswith(".wav"))[:n]
start = time.process_time()
for name in names:
    w = wave.open(os.path.join(folder, name))
    x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    kaldi.mfcc(torch.from_numpy(x).unsqueeze(0), sample_frequency=w.getframerate(),
               use_energy=True, energy_floor=0.0, dither=0.0)
print("torchaudio_seconds_per_file %.6g" % ((time.process_time() - start) / len(names)))
