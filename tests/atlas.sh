# tests/atlas.sh, sourced by the end-to-end tests after they set DATA: PAM50 is
# the atlas their phantoms are built on: $DATA/PAM50 when the shared data set
# is there, else the built-in synthetic stand-in (`phantom --pam50 synthetic`,
# sim/atlas_synth.c), so that the tests run without ../shared. PAM50_REAL is 1
# for the real atlas; a check that needs PAM50's own anatomy tests it.
if [ -f "$DATA/PAM50/atlas/info_label.txt" ]; then
  PAM50=$DATA/PAM50 PAM50_REAL=1
else
  PAM50=synthetic PAM50_REAL=0
  echo "note: no PAM50 atlas under $DATA: the phantoms are built on the synthetic stand-in (sim/atlas_synth.c)"
fi
