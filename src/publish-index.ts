import { runPublish } from './publish-main.js'

// Entry of publish/action.yml (bundled to dist/publish/index.js). runPublish never throws: it
// reports failures through core.setFailed.
void runPublish()
