# the command table, help and version — see test_cli.sh for the format
P 0 ^Usage:[[:space:]]longscan[[:space:]]<command>  $LONGSCAN --help
P 0 ^longscan[[:space:]][0-9]+\.[0-9]+\.[0-9]+$     $LONGSCAN --version
P 0 ^backend:                                        $LONGSCAN --version
P 0 Usage:[[:space:]]longscan[[:space:]]train        $LONGSCAN train --help
P 0 Usage:[[:space:]]longscan[[:space:]]eval         $LONGSCAN eval --help
P 0 Usage:[[:space:]]longscan[[:space:]]predict      $LONGSCAN predict --help
P 0 Usage:[[:space:]]longscan[[:space:]]embed        $LONGSCAN embed --help
P 0 Usage:[[:space:]]longscan[[:space:]]score        $LONGSCAN score --help
P 0 Usage:[[:space:]]longscan[[:space:]]generate     $LONGSCAN generate --help
P 0 Usage:[[:space:]]longscan[[:space:]]bench        $LONGSCAN bench --help
P 0 Usage:[[:space:]]longscan[[:space:]]train        $LONGSCAN help train
P 0 ^#file[[:space:]]kind[[:space:]]units            $LONGSCAN bench io --repeat 1 $EX/dna/bacteria_test.fa.gz $EX/audio/morning_coffee_5s.wav
P 0 bacteria_test.fa.gz[[:space:]]sequence[[:space:]]bases[[:space:]]100000[[:space:]]  $LONGSCAN bench io --repeat 1 $EX/dna/bacteria_test.fa.gz
P 0 morning_coffee_5s.wav[[:space:]]audio[[:space:]]samples[[:space:]]40000[[:space:]]  $LONGSCAN bench io --repeat 1 $EX/audio/morning_coffee_5s.wav
# bench model: a whole model's step (any device; timing is never asserted), with the peer's row
N 2 bench:[[:space:]]bench[[:space:]]model:[[:space:]]give[[:space:]]--model  $LONGSCAN bench model
N 2 --model[[:space:]]hybrid                        $LONGSCAN bench model --model hybrid
P 0 ^mamba[[:space:]]+f32[[:space:]]+train[[:space:]]+64[[:space:]].*[[:space:]]p[[:space:]]+50.000  printf '[{"peer":"p","model":"mamba","L":64,"step_ms":50,"peak_GiB":1}]' > $TMP/peers.json && $LONGSCAN bench model --model mamba --d-model 16 --layers 1 --seq-len 64 --repeat 1 --device cpu --peers $TMP/peers.json
P 0 \"mode\":[[:space:]]\"forward\",[[:space:]]\"L\":[[:space:]]32,  $LONGSCAN bench model --model transformer --d-model 16 --layers 1 --seq-len 32 --mode forward --repeat 1 --device cpu --json
P 0 \"mode\":[[:space:]]\"train\",.*\"dropout\":[[:space:]]0.2,  $LONGSCAN bench model --model bimamba --d-model 16 --layers 1 --seq-len 32 --repeat 1 --device cpu --dropout 0.2 --json
N 2 bench:[[:space:]]--dropout[[:space:]]1:[[:space:]]must[[:space:]]be[[:space:]]at[[:space:]]least[[:space:]]0[[:space:]]and[[:space:]]below[[:space:]]1  $LONGSCAN bench model --model mamba --dropout 1
P 0 \"mode\":[[:space:]]\"train\",.*\"grad_checkpoint\":[[:space:]]2,.*\"planned_GiB\":  $LONGSCAN bench model --model bimamba --d-model 16 --layers 3 --seq-len 32 --repeat 1 --device cpu --grad-checkpoint 2 --json
N 2 bench:[[:space:]]--grad-checkpoint[[:space:]]0:[[:space:]]must[[:space:]]be[[:space:]]at[[:space:]]least[[:space:]]1  $LONGSCAN bench model --model mamba --grad-checkpoint 0
# bench kernels needs a CUDA build and that GPU: one error line, exit 1 (CPU-only build, no GPU,
# or no device 7)
N 1 ^longscan[[:space:]]bench:[[:space:]]kernels:     $LONGSCAN bench kernels --device cuda:7
N 2 unknown[[:space:]]benchmark                      $LONGSCAN bench scan
N 2 --repeat[[:space:]]9                             $LONGSCAN bench kernels --repeat 9
# usage
N 2 unknown[[:space:]]command[[:space:]].frobnicate  $LONGSCAN frobnicate
N 2 unknown[[:space:]]command                        $LONGSCAN help frobnicate
N 2 --repeat[[:space:]]0                             $LONGSCAN bench io --repeat 0 $EX/audio/tabla_ke1.flac
N 2 --device[[:space:]]tpu                           $LONGSCAN info --device tpu $EX/audio/tabla_ke1.flac
N 2 --threads                                        $LONGSCAN info --threads -3 $EX/audio/tabla_ke1.flac
P 1 -                                                $LONGSCAN
# bench generate: unfused by default, --fused opts in (the fused generation step is a GPU path;
# the CPU accepts both options and the header says which was asked)
P 0 --unfused[[:space:]]+run[[:space:]]the[[:space:]]step[[:space:]]op[[:space:]]by[[:space:]]op.*the[[:space:]]default  $LONGSCAN bench --help
P 0 --fused[[:space:]]+run[[:space:]]the[[:space:]]fused[[:space:]]step[[:space:]]instead  $LONGSCAN bench --help
P 0 step[[:space:]]unfused[[:space:]]\(the[[:space:]]default\)$  $LONGSCAN bench generate --device cpu --batch 2 --steps 8 --d-model 16 --layers 1 --repeat 1 --unfused
P 0 step[[:space:]]unfused[[:space:]]\(the[[:space:]]default\)$  $LONGSCAN bench generate --device cpu --batch 2 --steps 8 --d-model 16 --layers 1 --repeat 1
P 0 step[[:space:]]fused[[:space:]]where[[:space:]]it[[:space:]]applies[[:space:]]\(--fused\)$  $LONGSCAN bench generate --device cpu --batch 2 --steps 8 --d-model 16 --layers 1 --repeat 1 --fused
N 2 bench.*unknown[[:space:]]or[[:space:]]incomplete[[:space:]]option[[:space:]]'--fused=1'  $LONGSCAN bench generate --device cpu --fused=1
N 2 bench.*unknown[[:space:]]or[[:space:]]incomplete[[:space:]]option[[:space:]]'--unfused=1'  $LONGSCAN bench generate --device cpu --unfused=1
