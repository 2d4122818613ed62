#!/bin/sh
# make_subword_corpus.sh: writes the seed models of fuzz_subword (corpus_subword/) with
# Debian's spm_train: three small models whose normalisation tables come from a rule file
# (the tables subword_check.c walks) or are absent. Not a test; the fuzzer starts from them.
# Usage: sh tests/fuzz/make_subword_corpus.sh   (needs the sentencepiece-tools package)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus_subword"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cat > "$tmp/text.txt" <<'TEXT'
In the beginning God created the heavens and the earth.
And God said, Let there be light: and there was light.
Y dijo Dios: Sea la luz: y fue la luz.
Él es DIOS, 1909 ﬁn
TEXT
printf '41\t61\n42\t62\nFB01\t66 69\n' > "$tmp/rules.tsv"   # A->a, B->b, the fi ligature -> f i
cd "$tmp"
spm_train --input=text.txt --model_prefix=unigram-rules --model_type=unigram --vocab_size=60 \
  --hard_vocab_limit=false --normalization_rule_tsv=rules.tsv --minloglevel=2
spm_train --input=text.txt --model_prefix=bpe-identity --model_type=bpe --vocab_size=45 \
  --normalization_rule_name=identity --minloglevel=2
spm_train --input=text.txt --model_prefix=char-rules --model_type=char --vocab_size=40 \
  --hard_vocab_limit=false --normalization_rule_tsv=rules.tsv --minloglevel=2
cp unigram-rules.model bpe-identity.model char-rules.model "$out/"
