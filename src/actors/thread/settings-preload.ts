/**
 * A tessera thread's first module, before the program's (a Worker's preload):
 * takes the thread's settings out of its environment before any of the
 * program's code can see them or pass them on (see channel.ts).
 */
import { tesseraThreadSettings } from "./channel.ts";

tesseraThreadSettings();
