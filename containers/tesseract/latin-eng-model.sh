#!/bin/sh
# Builds Latin_eng.traineddata in TESSDATA_DIR from two Debian models already there:
# the LSTM network, character set and number/punctuation patterns of the Latin script model
# (tesseract-ocr-script-latn) with the word list of the English model (tesseract-ocr-eng) as its
# dictionary, re-encoded for the Latin character set. The Latin network reads English pages and
# Latin letters with diacritics (IAST's ā ś ṛ, German, French) better than `eng`'s; Latin's own
# dictionary (89 MB, every Latin-script language) costs about 230 MB of memory per loaded model,
# the English one a few. See docs/architecture.md, "Languages".
#
# Uses only Tesseract's own tools (combine_tessdata, dawg2wordlist, wordlist2dawg, package
# tesseract-ocr). Does nothing when the model exists; writes it atomically.
#   sh containers/tesseract/latin-eng-model.sh /usr/share/tesseract-ocr/5/tessdata
set -eu
tessdata="${1:?usage: latin-eng-model.sh TESSDATA_DIR}"
out="$tessdata/Latin_eng.traineddata"
[ -f "$out" ] && exit 0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
combine_tessdata -u "$tessdata/Latin.traineddata" "$work/Latin." >/dev/null 2>&1
combine_tessdata -u "$tessdata/eng.traineddata" "$work/eng." >/dev/null 2>&1
dawg2wordlist "$work/eng.lstm-unicharset" "$work/eng.lstm-word-dawg" "$work/eng.words" >/dev/null 2>&1
rm "$work/Latin.lstm-word-dawg"
wordlist2dawg "$work/eng.words" "$work/Latin.lstm-word-dawg" "$work/Latin.lstm-unicharset" >/dev/null 2>&1
for part in "$work"/Latin.*; do
  mv "$part" "$work/Latin_eng.${part#"$work/Latin."}"
done
combine_tessdata "$work/Latin_eng." >/dev/null 2>&1
cp "$work/Latin_eng.traineddata" "$out.part"
mv "$out.part" "$out"
