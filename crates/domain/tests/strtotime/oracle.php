<?php
// The oracle: reads cases "expression<TAB>zone<TAB>now" from standard input and writes each
// back with a fourth column, what PHP's strtotime gives (unix seconds, or "false").
// Expressions are written with \t, \n and \\ escaped.
while (($line = fgets(STDIN)) !== false) {
    $line = rtrim($line, "\n");
    if ($line === '' || $line[0] === '#') {
        echo $line, "\n";
        continue;
    }
    [$expr, $zone, $now] = explode("\t", $line);
    date_default_timezone_set($zone);
    $text = strtr($expr, ['\\t' => "\t", '\\n' => "\n", '\\\\' => '\\']);
    $result = @strtotime($text, (int) $now);
    echo $expr, "\t", $zone, "\t", $now, "\t", $result === false ? 'false' : $result, "\n";
}
