# A stand-in for Twilio's Messages API: prints each SMS and answers as Twilio does.
import json, sys, uuid, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers['Content-Length'])).decode()))
        sid = 'SM' + uuid.uuid4().hex
        print(json.dumps({'to': form.get('To'), 'body': form.get('Body')}), flush=True)
        out = json.dumps({'sid': sid, 'status': 'queued'}).encode()
        self.send_response(201); self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out))); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
