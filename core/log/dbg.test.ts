import { SimDisk } from '../../sim/disk.ts';
import { makeSimRng } from '../../sim/rng.ts';
import { LogDriver, smallConfig } from './log-harness.test.ts';
import * as M from './log-model.test.ts';
const cfg = smallConfig({ retentionBytes: 3000, retentionMs: 4000, segmentMs: 3000 });
const d = new LogDriver(new SimDisk(makeSimRng(1487494106).fork('disk'), M.FAULTS), cfg);
d.boot(); d.drain();
const real = { d, faults: true }; const m: M.Model = { batches: [], leo: 0, epoch: 0 };
const cmds = [new M.AppendCmd([1],95,true,false), new M.AppendCmd([2,1],205,true,false), new M.CrashCmd(0,0), new M.AppendCmd([2],201,true,false),
 new M.AppendCmd([2,1,3],12,true,true), new M.RollCmd(), new M.TruncateCmd(0.728), new M.CrashCmd(0,0), new M.ReadCmd(0,1), new M.AppendCmd([3,2,3,1],147,true,false),
 new M.CrashCmd(0,0), new M.ReadCmd(0,1), new M.AppendCmd([2,3],236,true,true), new M.AppendCmd([3],0,true,false), new M.AppendCmd([1,2,1,2],0,true,false), new M.TruncateCmd(0.518)];
for (const c of cmds) {
  const evs = () => d.events.filter(e => e.kind !== 'durable' && e.kind !== 'read').map(e => JSON.stringify(e)).join(' ');
  try { c.run(m, real); } catch (e) { console.log('FAIL', c.toString(), String(e), evs()); console.log(d.log.state, d.log.logEndOffset, d.log.durableOffset, m.leo, d.log.segments.map(s => [s.baseOffset, s.sizeBytes, s.nextOffset])); break; }
  console.log(c.toString(), d.log.state, 'leo', d.log.logEndOffset, 'durable', d.log.durableOffset, 'model', m.leo, d.log.segments.map(s => [s.baseOffset, s.sizeBytes, s.nextOffset]), evs());
  d.events = [];
}
