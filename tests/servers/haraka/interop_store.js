// A Haraka plugin for libsmtp's interop matrix: recipients of the domain
// in the environment's INTEROP_DOMAIN are accepted and any other refused;
// each message queued (inbound, or outbound after AUTH) is written, as Haraka holds it (its Received field
// on top), to INTEROP_OUTDIR/<time>-<n>.eml, then accepted.
'use strict'

const fs = require('fs')
const path = require('path')

let count = 0

exports.register = function () {
    this.outdir = process.env.INTEROP_OUTDIR
    this.domain = (process.env.INTEROP_DOMAIN || '').toLowerCase()
}

exports.hook_rcpt = function (next, connection, params) {
    const rcpt = params[0]
    if ((rcpt.host || '').toLowerCase() === this.domain) return next(OK)
    next(DENY, 'Relaying denied')
}

exports.hook_queue = function (next, connection) {
    count += 1
    const name = path.join(this.outdir, `${process.pid}-${String(count).padStart(6, '0')}`)
    const out = fs.createWriteStream(`${name}.tmp`)
    out.on('error', (e) => next(DENYSOFT, `cannot store: ${e.message}`))
    out.on('finish', () => {
        fs.renameSync(`${name}.tmp`, `${name}.eml`)
        next(OK, 'stored')
    })
    connection.transaction.message_stream.pipe(out, { line_endings: '\r\n' })
}

// After AUTH Haraka treats the client as relaying and queues "outbound":
// stored all the same.
exports.hook_queue_outbound = exports.hook_queue
