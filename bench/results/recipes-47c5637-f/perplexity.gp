set terminal pngcairo size 800,500
set output 'perplexity.png'
set title 'human chr20 (GRCh37) next-base LM: held-out perplexity against context'
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05; set pointsize 1.5
set logscale x 2; set format x '2^{%L}'; set xlabel 'context length (bases)'
set ylabel 'perplexity (per base)'; set grid; set key right top
plot 'perplexity.dat' using 1:2:3:4 with yerrorlines title 'Mamba (mean; bars: min-max over seeds)'
