// msgpackr loads an optional native add-on when node_modules has it, and a
// compiled binary silently cannot: turn it off everywhere so that behaviour and
// start-up are the same from source and from `dist/mosaic` (it also halves start-up,
// and the add-on did not speed up small messages).
// This module must be imported before msgpackr.
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= "true";
