"""Layer 5, execution: how recipe runs are kept and scheduled. The result store (`store`: SQLite index, atomic
result folders), the job runner (`jobs`: queues per device, progress events, cancel, journal), Ray shards
(`distributed`) and the exported atlas site (`site`). Imports core, techniques, artifacts and recipes."""
