# Nothing lost, nothing silently wrong (issue 10) — see test_cli.sh for the format:
#   P|N EXIT EXPECT COMMAND   (cases run in order in one $TMP; this table makes its own models,
#   all named $TMP/s_*, so it does not depend on the other tables)
#
# --- models and inputs of this table: copies, so that "unchanged" can be checked with cmp
P 0 -  cp $FIX/bac_small.fa $TMP/s_in.fa && cp $FIX/bac_small.labels.tsv $TMP/s_lab.tsv && $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/s_m.safetensors
P 0 -  $LONGSCAN train --task lm --data $TMP/s_in.fa --d-model 8 --layers 1 --steps 2 --seq-len 100 --verbosity 0 -o $TMP/s_lm.safetensors
#
# --- -o naming an input is refused before any work (exit 2), for every command with -o
N 2 train:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]--data  $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/s_in.fa
N 2 train:[[:space:]]-o[[:space:]].*s_lab.tsv:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]--labels  $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/s_lab.tsv
N 2 train:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]--valid  $LONGSCAN train --data $FIX/bac_small.fa --labels $TMP/s_lab.tsv --valid $TMP/s_in.fa --valid-labels $TMP/s_lab.tsv --steps 2 --verbosity 0 -o $TMP/s_in.fa
N 2 train:[[:space:]]--log[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input  $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --steps 2 --verbosity 0 --log $TMP/s_in.fa -o $TMP/s_x.safetensors
N 2 train:[[:space:]]-o[[:space:]].*s_x.safetensors[[:space:]]and[[:space:]]--log[[:space:]].*:[[:space:]]the[[:space:]]same[[:space:]]file  $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --steps 2 --verbosity 0 --log $TMP/s_x.safetensors -o $TMP/s_x.safetensors
N 2 eval:[[:space:]]-o[[:space:]].*s_lab.tsv:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]--labels  $LONGSCAN eval -m $TMP/s_m.safetensors $TMP/s_in.fa --labels $TMP/s_lab.tsv -o $TMP/s_lab.tsv
N 2 eval:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]--class  $LONGSCAN eval -m $TMP/s_m.safetensors --class ecoli=$TMP/s_in.fa -o $TMP/s_in.fa
N 2 predict:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]  $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_in.fa
N 2 predict:[[:space:]]-o[[:space:]].*s_m.safetensors:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]-m  $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_m.safetensors
N 2 predict:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]].*s_in.fa:ecoli_001  $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa:ecoli_001 -o $TMP/s_in.fa
N 2 embed:[[:space:]]-o[[:space:]].*s_m.safetensors:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]-m  $LONGSCAN embed -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_m.safetensors
N 2 embed:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input  $LONGSCAN embed -m $TMP/s_m.safetensors --tsv $TMP/s_in.fa -o $TMP/s_in.fa
N 2 score:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input  $LONGSCAN score -m $TMP/s_lm.safetensors $TMP/s_in.fa -o $TMP/s_in.fa
N 2 info:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input  $LONGSCAN info -o $TMP/s_in.fa $TMP/s_in.fa
N 2 info:[[:space:]]-o[[:space:]].*s_lab.tsv:[[:space:]]is[[:space:]]the[[:space:]]input[[:space:]]--labels  $LONGSCAN info -o $TMP/s_lab.tsv --labels $TMP/s_lab.tsv $TMP/s_in.fa
N 2 bench:[[:space:]]-o[[:space:]].*s_in.fa:[[:space:]]is[[:space:]]the[[:space:]]input  $LONGSCAN bench io -o $TMP/s_in.fa $TMP/s_in.fa
# the same file under another name: a hard link, a symbolic link
N 2 predict:[[:space:]]-o[[:space:]].*s_hard.fa:[[:space:]]is[[:space:]]the[[:space:]]input  ln $TMP/s_in.fa $TMP/s_hard.fa && $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_hard.fa
N 2 predict:[[:space:]]-o[[:space:]].*s_soft.fa:[[:space:]]is[[:space:]]the[[:space:]]input  ln -s s_in.fa $TMP/s_soft.fa && $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_soft.fa
# a file read through a directory or a manifest (found after loading, before the model runs)
N 2 predict:[[:space:]]-o[[:space:]].*s_dir/a.fa:[[:space:]]is[[:space:]]the[[:space:]]data[[:space:]]file  mkdir $TMP/s_dir && cp $FIX/small.fa $TMP/s_dir/a.fa && cp $FIX/small.fa $TMP/s_dir/keep.fa && $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_dir -o $TMP/s_dir/a.fa
N 2 train:[[:space:]]-o[[:space:]].*s_dir/a.fa:[[:space:]]is[[:space:]]the[[:space:]]data[[:space:]]file  printf 'a.fa\tx\nkeep.fa\ty\n' > $TMP/s_dir/man.tsv && $LONGSCAN train --data $TMP/s_dir/man.tsv --steps 1 --verbosity 0 -o $TMP/s_dir/a.fa
# ... and every input is unchanged, byte for byte
P 0 ^unchanged$  cmp $TMP/s_in.fa $FIX/bac_small.fa && cmp $TMP/s_lab.tsv $FIX/bac_small.labels.tsv && cmp $TMP/s_dir/a.fa $FIX/small.fa && $LONGSCAN info $TMP/s_m.safetensors > /dev/null && echo unchanged
#
# --- train -o X.state.safetensors would write model and state to one file: refused
N 2 train:[[:space:]]-o[[:space:]].*s_run.state.safetensors:[[:space:]]that[[:space:]]is[[:space:]]the[[:space:]]name[[:space:]]of[[:space:]]a[[:space:]]training[[:space:]]state  $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --steps 2 --verbosity 0 -o $TMP/s_run.state.safetensors
P 0 ^none$  test $(ls $TMP | grep -c '^s_run') = 0 && echo none
#
# --- temporaries: an unrelated OUT.tmp survives every writer; names up to NAME_MAX work
P 0 ^unrelated$  echo unrelated > $TMP/s_p.tsv.tmp && $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_p.tsv && test -s $TMP/s_p.tsv && cat $TMP/s_p.tsv.tmp
P 0 ^unrelated$  echo unrelated > $TMP/s_e.safetensors.tmp && $LONGSCAN embed -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/s_e.safetensors && test -s $TMP/s_e.safetensors && cat $TMP/s_e.safetensors.tmp
P 0 ^unrelated$  echo unrelated > $TMP/s_t.safetensors.tmp && echo unrelated > $TMP/s_t.state.safetensors.tmp && $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/s_t.safetensors && test -s $TMP/s_t.state.safetensors && cat $TMP/s_t.safetensors.tmp $TMP/s_t.state.safetensors.tmp | uniq
P 0 ^unrelated$  echo unrelated > $TMP/s_i.txt.tmp && $LONGSCAN info -o $TMP/s_i.txt $TMP/s_in.fa && test -s $TMP/s_i.txt && cat $TMP/s_i.txt.tmp
P 0 ^255[[:space:]]ok$  n=$(printf 'n%.0s' $(seq 1 251)).tsv && $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/$n && test -s $TMP/$n && echo ${#n} ok
P 0 ^255[[:space:]]ok$  n=$(printf 'e%.0s' $(seq 1 243)).safetensors && $LONGSCAN embed -m $TMP/s_m.safetensors $TMP/s_in.fa -o $TMP/$n && test -s $TMP/$n && echo ${#n} ok
# train's state name is longer than -o's: one that cannot exist is refused before any work
N 1 train:[[:space:]].*the[[:space:]]file[[:space:]]name[[:space:]]is[[:space:]]261[[:space:]]bytes  n=$(printf 'm%.0s' $(seq 1 243)).safetensors && $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --steps 2 --verbosity 0 -o $TMP/$n
P 0 ^none$  test $(ls -A $TMP | grep -c '^\.longscan-') = 0 && echo none
#
# --- every output can be created, checked before the work (here before the model is read)
N 1 embed:[[:space:]]/no/such/dir/e.safetensors:[[:space:]]cannot[[:space:]]create[[:space:]]a[[:space:]]file  $LONGSCAN embed -m $FIX/garbage.fa $TMP/s_in.fa -o /no/such/dir/e.safetensors
N 1 predict:[[:space:]].*:[[:space:]]is[[:space:]]a[[:space:]]directory$  $LONGSCAN predict -m $FIX/garbage.fa $TMP/s_in.fa -o $TMP/s_dir
N 1 train:[[:space:]]/no/such/dir/x.safetensors:[[:space:]]cannot[[:space:]]create  $LONGSCAN train --data $FIX/no_such.fa -o /no/such/dir/x.safetensors
N 1 train:[[:space:]]/no/such/dir/log.csv:[[:space:]]cannot[[:space:]]create  $LONGSCAN train --data $FIX/no_such.fa --log /no/such/dir/log.csv -o $TMP/s_x.safetensors
P 0 ^ok$  $LONGSCAN predict -m $TMP/s_m.safetensors $TMP/s_in.fa -o /dev/null && echo ok
# a full disk (a file size limit here) at the end of a run: the state is written first, so no
# model appears without its state, and nothing is left behind
N 1 train:[[:space:]].*s_full.state.safetensors:[[:space:]]write[[:space:]]failed  trap '' XFSZ; ulimit -f 24; $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_lab.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/s_full.safetensors
P 0 ^nothing$  test $(ls -A $TMP | grep -c -e '^s_full' -e '^\.longscan-') = 0 && echo nothing
#
# --- labels, names and file names that are not UTF-8: refused when read, naming where
N 1 train:[[:space:]].*s_latin1.tsv:3:[[:space:]]label[[:space:]]'caf.xe9'[[:space:]]is[[:space:]]not[[:space:]]valid[[:space:]]UTF-8  sed '3s/\t.*/\tcaf\xe9/' $TMP/s_lab.tsv > $TMP/s_latin1.tsv && $LONGSCAN train --data $TMP/s_in.fa --labels $TMP/s_latin1.tsv --steps 2 --verbosity 0 -o $TMP/s_x.safetensors
N 1 embed:[[:space:]].*s_latin1.fa:[[:space:]]record[[:space:]]#2:[[:space:]]name[[:space:]]'caf.xe9'  printf '>ok\nACGT\n>caf\351\nACGT\n' > $TMP/s_latin1.fa && $LONGSCAN embed -m $TMP/s_m.safetensors $TMP/s_latin1.fa -o $TMP/s_x.safetensors
N 1 train:[[:space:]].*s_man.tsv:2:[[:space:]]label[[:space:]]'caf.xe9'  mkdir -p $TMP/s_man && cp $FIX/small.fa $TMP/s_man/a.fa && cp $FIX/small.fq $TMP/s_man/b.fq && printf 'a.fa\tok\nb.fq\tcaf\351\n' > $TMP/s_man/s_man.tsv && $LONGSCAN train --data $TMP/s_man/s_man.tsv --steps 2 --verbosity 0 -o $TMP/s_x.safetensors
N 1 train:[[:space:]].*s_cls/caf.xe9:[[:space:]]label[[:space:]]'caf.xe9'  mkdir -p $TMP/s_cls/ok $TMP/s_cls/$(printf 'caf\351') && cp $FIX/small.fa $TMP/s_cls/ok/ && cp $FIX/small.fq $TMP/s_cls/$(printf 'caf\351')/ && $LONGSCAN train --data $TMP/s_cls --steps 2 --verbosity 0 -o $TMP/s_x.safetensors
# a file name on train's command line (recorded in the checkpoint) is refused at once; a model
# path that embed records is kept escaped
N 2 train:[[:space:]]argument[[:space:]]'.*s_caf.xe9.fa'[[:space:]]is[[:space:]]not[[:space:]]valid[[:space:]]UTF-8  cp $TMP/s_in.fa $TMP/s_caf$(printf '\351').fa && $LONGSCAN train --data $TMP/s_caf$(printf '\351').fa --labels $TMP/s_lab.tsv --steps 2 --verbosity 0 -o $TMP/s_x.safetensors
P 0 model[[:space:]]=[[:space:]].*s_m.xe9.safetensors$  cp $TMP/s_m.safetensors $TMP/s_m$(printf '\351').safetensors && $LONGSCAN embed -m $TMP/s_m$(printf '\351').safetensors $TMP/s_in.fa -o $TMP/s_emb.safetensors && $LONGSCAN info $TMP/s_emb.safetensors
P 0 ^none$  test $(ls $TMP | grep -c '^s_x') = 0 && echo none
#
# --- resume: edited data of the same lengths (one base, one label) is refused; the data the
#     run started with resume it
P 0 -  cp $FIX/bac_small.fa $TMP/s_rd.fa && cp $FIX/bac_small.labels.tsv $TMP/s_rl.tsv && $LONGSCAN train --data $TMP/s_rd.fa --labels $TMP/s_rl.tsv --d-model 8 --layers 1 --steps 4 --stop-after 2 --verbosity 0 -o $TMP/s_r.safetensors && cp $TMP/s_r.state.safetensors $TMP/s_r2.state.safetensors
N 2 train:[[:space:]]--resume[[:space:]].*s_r.state.safetensors:[[:space:]]the[[:space:]]training[[:space:]]or[[:space:]]validation[[:space:]]data[[:space:]]differ  sed -i '2s/^G/T/' $TMP/s_rd.fa && ! cmp -s $TMP/s_rd.fa $FIX/bac_small.fa && $LONGSCAN resume $TMP/s_r.safetensors --verbosity 0
N 2 data[[:space:]]digest[[:space:]][0-9a-f]{16}[[:space:]]then,[[:space:]][0-9a-f]{16}[[:space:]]now  cp $FIX/bac_small.fa $TMP/s_rd.fa && sed -i '1s/ecoli$/hpylori/; 7s/hpylori$/ecoli/' $TMP/s_rl.tsv && ! cmp -s $TMP/s_rl.tsv $FIX/bac_small.labels.tsv && $LONGSCAN resume $TMP/s_r.safetensors --verbosity 0
P 0 ^step[[:space:]]4$  cp $FIX/bac_small.labels.tsv $TMP/s_rl.tsv && $LONGSCAN resume $TMP/s_r.safetensors --verbosity 0 && $LONGSCAN info $TMP/s_r.state.safetensors | sed -n 's/^ *step = /step /p'
#
# --- weights that are not numbers: refused at load, naming the tensor and the element
P 0 -  ST=$(dirname $LONGSCAN)/tests/helpers/st_tool && cp $TMP/s_m.safetensors $TMP/s_nan.safetensors && $ST set $TMP/s_nan.safetensors backbone.layers.0.mixer.mamba_fwd.in_proj.weight 37 nan && cp $TMP/s_m.safetensors $TMP/s_inf.safetensors && $ST set $TMP/s_inf.safetensors classifier.bias 2 -inf && cp $TMP/s_lm.safetensors $TMP/s_lmnan.safetensors && $ST set $TMP/s_lmnan.safetensors backbone.norm_f.weight 3 nan
N 1 eval:[[:space:]].*s_nan.safetensors:[[:space:]]tensor[[:space:]]'backbone.layers.0.mixer.mamba_fwd.in_proj.weight':[[:space:]]element[[:space:]]\[4,[[:space:]]5\][[:space:]]\(index[[:space:]]37[[:space:]]of[[:space:]]256\)[[:space:]]is[[:space:]]nan  $LONGSCAN eval -m $TMP/s_nan.safetensors $TMP/s_in.fa --labels $TMP/s_lab.tsv
N 1 predict:[[:space:]].*s_nan.safetensors:[[:space:]]tensor[[:space:]]'backbone.layers.0.mixer.mamba_fwd.in_proj.weight'.*is[[:space:]]nan  $LONGSCAN predict -m $TMP/s_nan.safetensors $TMP/s_in.fa
N 1 embed:[[:space:]].*s_nan.safetensors:[[:space:]]tensor.*is[[:space:]]nan  $LONGSCAN embed -m $TMP/s_nan.safetensors $TMP/s_in.fa -o $TMP/s_x.safetensors
N 1 predict:[[:space:]].*s_inf.safetensors:[[:space:]]tensor[[:space:]]'classifier.bias':[[:space:]]element[[:space:]]\[2\].*is[[:space:]]-inf  $LONGSCAN predict -m $TMP/s_inf.safetensors $TMP/s_in.fa
N 1 score:[[:space:]].*s_lmnan.safetensors:[[:space:]]tensor[[:space:]]'backbone.norm_f.weight':[[:space:]]element[[:space:]]\[3\]  $LONGSCAN score -m $TMP/s_lmnan.safetensors $TMP/s_in.fa
P 0 ^format[[:space:]]+safetensors  $LONGSCAN info $TMP/s_nan.safetensors | sed 's/^ *//'
N 1 train:[[:space:]].*s_rn.state.safetensors:[[:space:]]tensor[[:space:]]'adamw.exp_avg_sq.classifier.bias':[[:space:]]element[[:space:]]\[1\].*is[[:space:]]nan  cp $TMP/s_r.state.safetensors $TMP/s_rn.state.safetensors && $(dirname $LONGSCAN)/tests/helpers/st_tool set $TMP/s_rn.state.safetensors adamw.exp_avg_sq.classifier.bias 1 nan && $LONGSCAN train --resume $TMP/s_rn.state.safetensors
# finite weights whose outputs overflow: an error naming the record, never a number
P 0 -  ST=$(dirname $LONGSCAN)/tests/helpers/st_tool && cp $TMP/s_m.safetensors $TMP/s_big.safetensors && $ST set $TMP/s_big.safetensors classifier.weight all 3e38 && cp $TMP/s_m.safetensors $TMP/s_bign.safetensors && $ST set $TMP/s_bign.safetensors backbone.norm_f.weight all 3e38 && cp $TMP/s_lm.safetensors $TMP/s_lmbig.safetensors && $ST set $TMP/s_lmbig.safetensors backbone.norm_f.weight all 3e38
N 1 predict:[[:space:]].*s_in.fa:[[:space:]]'ecoli_001':[[:space:]]the[[:space:]]model's[[:space:]]output[[:space:]]\(logits\)[[:space:]](is[[:space:]]nan|overflows)  $LONGSCAN predict -m $TMP/s_big.safetensors $TMP/s_in.fa
N 1 eval:[[:space:]].*s_in.fa:[[:space:]]'ecoli_001':[[:space:]]the[[:space:]]model's[[:space:]]output[[:space:]]\(logits\)  $LONGSCAN eval -m $TMP/s_big.safetensors $TMP/s_in.fa --labels $TMP/s_lab.tsv
N 1 embed:[[:space:]].*s_in.fa:[[:space:]]'ecoli_001':[[:space:]]the[[:space:]]model's[[:space:]]output[[:space:]]\(embedding\)  $LONGSCAN embed -m $TMP/s_bign.safetensors --tsv $TMP/s_in.fa
N 1 score:[[:space:]].*s_in.fa:[[:space:]]'ecoli_001':[[:space:]]the[[:space:]]model's[[:space:]]output[[:space:]]\(logits\).*at[[:space:]]position[[:space:]][0-9]+  $LONGSCAN score -m $TMP/s_lmbig.safetensors $TMP/s_in.fa -o $TMP/s_x.bedgraph
N 1 eval:[[:space:]].*s_in.fa:[[:space:]]'ecoli_001':[[:space:]]the[[:space:]]model's[[:space:]]output[[:space:]]\(logits\)  $LONGSCAN eval -m $TMP/s_lmbig.safetensors $TMP/s_in.fa
# training whose loss stops being a number stops with an error, saving nothing of that step
N 1 train:[[:space:]]step[[:space:]]3:[[:space:]]the[[:space:]]loss[[:space:]]is[[:space:]](nan|infinite)  cp $TMP/s_r2.state.safetensors $TMP/s_rb.state.safetensors && $(dirname $LONGSCAN)/tests/helpers/st_tool set $TMP/s_rb.state.safetensors model.classifier.weight all 3e38 && cp $TMP/s_r.safetensors $TMP/s_r.before && $LONGSCAN train --resume $TMP/s_rb.state.safetensors --verbosity 0
P 0 ^same$  cmp $TMP/s_r.safetensors $TMP/s_r.before && echo same
