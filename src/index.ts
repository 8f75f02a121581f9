/**
 * Entry point for both the main and the post step (action.yml points both here). The main step
 * saves the isPost state, so the second invocation knows it is the post step.
 */
import * as core from '@actions/core'
import { State } from './constants.js'
import { run } from './main.js'
import { post } from './post.js'

if (core.getState(State.isPost) === 'true') {
  await post()
} else {
  await run()
}
