-- registry.lua: every dataset loom knows, for `loom data` and loom.data.path(name).
-- Bundled sets live in a folder of this name here (checksums in its SHA256SUMS); fetched
-- sets are downloaded from `urls` (each URL + a manifest path), verified against
-- manifests/<name>.sha256 and cached in $LOOM_DATA. A mirror (LOOM_DATA_MIRROR=DIR) holds
-- <mirror>/<name>/<path>, the upstream layout. Generated sets name a `generator` script
-- here whose generate{out = DIR} writes them into the cache (`loom data fetch <name>` runs
-- it; nothing is downloaded). Data only: loaded without globals.
return {
  ["nist-strd"] = {
    bundled = true,
    title = "NIST StRD linear least squares: Norris, Pontius, NoInt1, Longley, Wampler1, Wampler2",
    licence = "public domain (US Government work)",
    source = "https://www.itl.nist.gov/div898/strd/lls/lls.shtml (copies from Debian's gretl-data 2022c-1)",
    size = 19429,
  },
  regression = {
    bundled = true,
    title = "R's cars, mtcars, longley, stackloss, swiss, trees, women; diabetes; R 4.2.2 lm() references",
    licence = "public data (R datasets package); diabetes via scikit-learn, BSD-3-Clause",
    source = "R 4.2.2 datasets package (Debian r-base-core), scikit-learn 1.2.1 load_diabetes",
    size = 22401,
  },
  digits = {
    bundled = true,
    title = "8x8 handwritten digits, 1,797 images (UCI optdigits test set)",
    licence = "CC BY 4.0",
    source = "https://archive.ics.uci.edu/dataset/80 as shipped by scikit-learn 1.2.1",
    size = 63793,
  },
  ["linzen-agreement"] = {
    bundled = true,
    title = "subject-verb number prediction (Linzen, Dupoux & Goldberg 2016), gzip",
    licence = "MIT (rnn_agreement code release); cite the paper",
    source = "https://github.com/TalLinzen/rnn_agreement (rnn_agr_simple)",
    size = 1463398,
  },
  fsdd = {
    title = "Free Spoken Digit Dataset: 3,000 8 kHz WAV files, 6 speakers x 10 digits x 50 takes",
    licence = "CC BY-SA 4.0",
    source = "https://github.com/Jakobovski/free-spoken-digit-dataset (v1.0.10-27, master)",
    size = 21128848,
    urls = {
      "https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/master/",
      "https://cdn.jsdelivr.net/gh/Jakobovski/free-spoken-digit-dataset@master/",
    },
    manifest = "manifests/fsdd.sha256",
  },
  bible = {
    generator = "bible.lua",
    title = "Bible verses English -> Spanish, 31,077 pairs by verse (WEB / Reina-Valera 1909); test and validation are whole books",
    licence = "public domain (both translations)",
    source = "diatheke on Debian's sword-text-web (engWEB2015eb) and sword-text-sparv (spaRV1909eb)",
    size = 8387125,
  },
  scan = {
    title = "SCAN (Lake & Baroni 2018): commands to actions; simple, length and add-primitive splits",
    licence = "BSD-3-Clause",
    source = "https://github.com/brendenlake/SCAN at c4b756cbc010d75c912f16c42c8f15dc6b7e6c8f",
    size = 20507515,
    urls = {
      "https://raw.githubusercontent.com/brendenlake/SCAN/c4b756cbc010d75c912f16c42c8f15dc6b7e6c8f/",
      "https://cdn.jsdelivr.net/gh/brendenlake/SCAN@c4b756cbc010d75c912f16c42c8f15dc6b7e6c8f/",
    },
    manifest = "manifests/scan.sha256",
  },
}
